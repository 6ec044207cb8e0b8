import { describe, expect, it } from 'vitest'
import { HalfState, OpenState, RemoteEvent, StreamState } from '../../src/muxer/stream-state.js'
import { Flag } from '../../src/muxer/constants.js'
import { StreamClosedError, StreamResetError } from '../../src/errors.js'

const { SYN, ACK, FIN, RST } = Flag

describe('StreamState transitions', () => {
  it('outbound: Init -SYN-> SynSent -ACK-> Established; SYN only on the first frame', () => {
    const s = StreamState.outbound()
    expect(s.open).toBe(OpenState.Init)
    expect(s.takeOpenFlags()).toBe(SYN)
    expect(s.open).toBe(OpenState.SynSent)
    expect(s.takeOpenFlags()).toBe(0)
    expect(s.onRemoteFlags(ACK)).toBe(RemoteEvent.Acked)
    expect(s.open).toBe(OpenState.Established)
    expect(s.onRemoteFlags(ACK)).toBe(RemoteEvent.None)
  })

  it('inbound: SynReceived -ACK-> Established; ACK only on the first frame', () => {
    const s = StreamState.inbound()
    expect(s.takeOpenFlags()).toBe(ACK)
    expect(s.takeOpenFlags()).toBe(0)
    expect(s.open).toBe(OpenState.Established)
    // an ACK from the peer on a stream it opened is ignored (go logs, rust ignores)
    expect(s.onRemoteFlags(ACK)).toBe(RemoteEvent.None)
  })

  it('FIN as the very first frame carries SYN too', () => {
    const s = StreamState.outbound()
    expect(s.sendFin(1)).toBe(SYN | FIN)
    expect(s.write).toBe(HalfState.Closed)
  })

  it('half-close each way, finished after both', () => {
    const s = StreamState.outbound()
    s.takeOpenFlags()
    expect(s.sendFin(1)).toBe(FIN)
    expect(s.finished).toBe(false)
    expect(s.mayGrantCredit).toBe(true)
    expect(s.maySendData).toBe(false)
    expect(s.onRemoteFlags(FIN)).toBe(RemoteEvent.Fin)
    expect(s.finished).toBe(true)
    expect(s.mayGrantCredit).toBe(false)
  })

  it('remote FIN first: we may still send, no more credit to grant', () => {
    const s = StreamState.inbound()
    expect(s.onRemoteFlags(FIN)).toBe(RemoteEvent.Fin)
    expect(s.onRemoteFlags(FIN)).toBe(RemoteEvent.None) // a second FIN is ignored
    expect(s.maySendData).toBe(true)
    expect(s.mayGrantCredit).toBe(false)
  })

  it('remote RST resets both directions, once', () => {
    const s = StreamState.outbound()
    s.takeOpenFlags()
    expect(s.onRemoteFlags(ACK | RST)).toBe(RemoteEvent.Acked | RemoteEvent.Reset)
    expect([s.read, s.write]).toEqual([HalfState.Reset, HalfState.Reset])
    expect(s.onRemoteFlags(RST)).toBe(RemoteEvent.None)
    expect(s.finished).toBe(true)
  })

  it('FIN and RST together: both events', () => {
    const s = StreamState.inbound()
    expect(s.onRemoteFlags(FIN | RST)).toBe(RemoteEvent.Fin | RemoteEvent.Reset)
  })

  it('local RST on an unopened stream carries SYN; on an inbound stream never ACKed it is a bare RST (a refusal)', () => {
    expect(StreamState.outbound().sendReset(1)).toBe(SYN | RST)
    expect(StreamState.inbound().sendReset(2)).toBe(RST)
    const accepted = StreamState.inbound()
    expect(accepted.takeOpenFlags()).toBe(ACK)
    expect(accepted.sendReset(2)).toBe(RST)
  })

  it('illegal local transitions throw typed errors', () => {
    const s = StreamState.outbound()
    s.sendFin(1)
    expect(() => { s.assertMaySendData(1) }).toThrow(StreamClosedError)
    expect(() => s.sendFin(1)).toThrow(StreamClosedError)
    s.onRemoteFlags(FIN)
    expect(() => s.sendReset(1)).toThrow(/RST after the stream finished/)
    const r = StreamState.outbound()
    r.sendReset(1)
    expect(() => { r.assertMaySendData(1) }).toThrow(StreamResetError)
    expect(() => r.sendFin(1)).toThrow(StreamResetError)
  })
})
