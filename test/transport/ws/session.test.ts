/** The sans-I/O WebSocket machine, driven by frame vectors in the manner of the Autobahn test suite. */
import { describe, expect, it } from 'vitest'
import { WsSession, type WsRole } from '../../../src/transport/ws/session.js'
import { Opcode } from '../../../src/transport/ws/constants.js'
import {
  decodeFrameHeader,
  decodeClosePayload,
  encodeClosePayload,
  applyMask
} from '../../../src/transport/ws/frame.js'
import { WsError } from '../../../src/errors.js'
import { refEncode } from '../../reference/ws-frame.js'
import { concat } from '../../helpers/bytes.js'

interface Harness {
  s: WsSession
  data: Uint8Array[]
  ends: number[]
  closed: boolean[]
  failures: WsError[]
  pongs: number[]
  clock: { t: number }
  /** Frames we sent (from the outbox), decoded: opcode and unmasked payload. */
  sent: () => Array<{ opcode: number, payload: Uint8Array }>
}

function harness (role: WsRole = 'server', maxMessageBytes?: number): Harness {
  const h: Partial<Harness> = { data: [], ends: [], closed: [], failures: [], pongs: [], clock: { t: 0 } }
  const s: WsSession = new WsSession({
    role,
    now: () => (h.clock as { t: number }).t,
    randomFill: t => t.fill(0x5c),
    maxMessageBytes,
    closeTimeoutMs: 1000,
    host: {
      onData: p => h.data?.push(p.slice()),
      onOutput: () => {},
      onRemoteEnd: c => h.ends?.push(c.code),
      onClosed: t => h.closed?.push(t),
      onFailure: e => h.failures?.push(e),
      onPong: rtt => h.pongs?.push(rtt)
    }
  })
  h.s = s
  h.sent = () => {
    const bytes = concat(s.takeOutbox())
    const out: Array<{ opcode: number, payload: Uint8Array }> = []
    let at = 0
    while (at < bytes.length) {
      const hd = decodeFrameHeader(bytes, at)
      if (hd === undefined) throw new Error('partial frame in outbox')
      const payload = bytes.slice(at + hd.headerLength, at + hd.headerLength + hd.length)
      if (hd.maskKey !== undefined) applyMask(payload, hd.maskKey)
      out.push({ opcode: hd.opcode, payload })
      at += hd.headerLength + hd.length
    }
    return out
  }
  return h as Harness
}

const key = new Uint8Array([1, 2, 3, 4])
/** A frame as a client sends it (masked). */
const c = (opcode: number, payload: Uint8Array | string = new Uint8Array(0), fin = true): Uint8Array =>
  refEncode({
    fin,
    opcode,
    payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload,
    maskKey: key
  })
const text = (b: Uint8Array[]): string => new TextDecoder().decode(concat(b))
const closeCodeOf = (f: { payload: Uint8Array }): number => decodeClosePayload(f.payload).code

describe('WsSession (Autobahn-style vectors)', () => {
  it('1.2.x binary messages of 0, 125, 126, 65535, 65536 bytes are delivered', () => {
    const h = harness()
    for (const n of [0, 125, 126, 65535, 65536]) h.s.receive(c(Opcode.Binary, new Uint8Array(n).fill(n & 0xff)))
    expect(concat(h.data).length).toBe(125 + 126 + 65535 + 65536)
    expect(h.failures).toEqual([])
  })

  it('5.3 / 5.6 fragmented binary message with pings between fragments: data in order, pongs echo', () => {
    const h = harness()
    h.s.receive(
      concat([
        c(Opcode.Binary, 'frag1', false),
        c(Opcode.Ping, 'p1'),
        c(Opcode.Continuation, 'frag2', false),
        c(Opcode.Ping, 'p2'),
        c(Opcode.Continuation, 'frag3', true)
      ])
    )
    expect(text(h.data)).toBe('frag1frag2frag3')
    expect(h.sent().map(f => [f.opcode, new TextDecoder().decode(f.payload)])).toEqual([[Opcode.Pong, 'p1'], [
      Opcode.Pong,
      'p2'
    ]])
  })

  it('5.9 continuation with nothing to continue → 1002', () => {
    const h = harness()
    h.s.receive(c(Opcode.Continuation, 'x'))
    expect(h.failures[0]?.closeCode).toBe(1002)
    expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(1002)
    expect(h.s.state).toBe('closed')
  })

  it('5.18 a new binary frame inside a fragmented message → 1002', () => {
    const h = harness()
    h.s.receive(concat([c(Opcode.Binary, 'a', false), c(Opcode.Binary, 'b')]))
    expect(h.failures[0]?.code).toBe('ERR_WS_PROTOCOL')
    expect(text(h.data)).toBe('a')
  })

  it('text frames → 1003 (libp2p carries binary only)', () => {
    const h = harness()
    h.s.receive(c(Opcode.Text, 'hello'))
    expect(h.failures[0]?.code).toBe('ERR_WS_UNSUPPORTED_DATA')
    expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(1003)
    expect(h.data).toEqual([])
  })

  it('3.x RSV bits and 4.x reserved opcodes → 1002', () => {
    for (
      const bytes of [
        refEncode({ fin: true, rsv: 1, opcode: 2, payload: new Uint8Array(1), maskKey: key }),
        refEncode({ fin: true, opcode: 5, payload: new Uint8Array(0), maskKey: key }),
        refEncode({ fin: true, opcode: 0xb, payload: new Uint8Array(0), maskKey: key })
      ]
    ) {
      const h = harness()
      h.s.receive(bytes)
      expect(h.failures[0]?.closeCode).toBe(1002)
    }
  })

  it('2.5 a ping of 126 bytes → 1002; an unmasked frame at a server → 1002', () => {
    const h = harness()
    h.s.receive(refEncode({ fin: true, opcode: Opcode.Ping, payload: new Uint8Array(126), maskKey: key }))
    expect(h.failures[0]?.closeCode).toBe(1002)
    const h2 = harness()
    h2.s.receive(refEncode({ fin: true, opcode: Opcode.Binary, payload: new Uint8Array(3) }))
    expect(h2.failures[0]?.closeCode).toBe(1002)
  })

  it('2.x unsolicited pong is ignored; a pong matching our ping reports the RTT from the injected clock', () => {
    const h = harness('client')
    h.s.receive(refEncode({ fin: true, opcode: Opcode.Pong, payload: new Uint8Array([9]) }))
    expect(h.pongs).toEqual([])
    h.s.ping(new Uint8Array([7, 7]))
    expect(h.sent()[0]?.opcode).toBe(Opcode.Ping)
    h.clock.t = 42
    h.s.receive(refEncode({ fin: true, opcode: Opcode.Pong, payload: new Uint8Array([7, 7]) }))
    expect(h.pongs).toEqual([42])
  })

  it('message size is checked at the header, across fragments → 1009 before the payload', () => {
    const h = harness('server', 10)
    h.s.receive(concat([c(Opcode.Binary, '123456', false), c(Opcode.Continuation, '78901')]))
    expect(text(h.data)).toBe('123456')
    expect(h.failures[0]?.code).toBe('ERR_WS_MESSAGE_TOO_LARGE')
    expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(1009)
  })

  it('7.1.x close handshake, peer first: onRemoteEnd, our Close only when our direction ends', () => {
    const h = harness()
    h.s.receive(c(Opcode.Close, encodeClosePayload(1000, 'done')))
    expect(h.ends).toEqual([1000])
    expect(h.s.state).toBe('closing')
    expect(h.s.writable).toBe(true) // half-close: we may still send
    expect(h.s.encodeData([new Uint8Array([1])]).length).toBe(2)
    expect(h.sent()).toEqual([])
    h.s.closeWrite()
    expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(1000)
    expect(h.closed).toEqual([false])
    expect(h.s.state).toBe('closed')
  })

  it('7.1.x close handshake, we first: data after our Close is refused, the peer\'s data still arrives', () => {
    const h = harness()
    h.s.closeWrite()
    expect(h.s.state).toBe('closing')
    expect(() => h.s.encodeData([new Uint8Array(1)])).toThrow(WsError)
    h.s.receive(c(Opcode.Binary, 'late'))
    expect(text(h.data)).toBe('late')
    h.s.receive(c(Opcode.Close))
    expect(h.ends).toEqual([1005])
    expect(h.closed).toEqual([false])
  })

  it('7.1.x no pong after our Close; frames after the peer\'s Close are discarded', () => {
    const h = harness()
    h.s.closeWrite()
    h.sent()
    h.s.receive(c(Opcode.Ping, 'x'))
    expect(h.sent()).toEqual([])
    h.s.receive(concat([c(Opcode.Close), c(Opcode.Binary, 'ignored')]))
    expect(h.data).toEqual([])
  })

  it('7.3.x / 7.5.1 / 7.9.x bad close payloads → 1002 / 1007', () => {
    const cases: Array<[Uint8Array, number]> = [
      [new Uint8Array([0x03]), 1002],
      [new Uint8Array([0x03, 0xed]), 1002], // 1005
      [new Uint8Array([0x03, 0xee]), 1002], // 1006
      [new Uint8Array([0x03, 0xe7]), 1002], // 999
      [new Uint8Array([0x13, 0x88]), 1002], // 5000
      [
        new Uint8Array([
          0x03,
          0xe8,
          0xce,
          0xba,
          0xe1,
          0xbd,
          0xb9,
          0xcf,
          0x83,
          0xce,
          0xbc,
          0xce,
          0xb5,
          0xed,
          0xa0,
          0x80,
          0x65,
          0x64,
          0x69,
          0x74,
          0x65,
          0x64
        ]),
        1007
      ]
    ]
    for (const [payload, code] of cases) {
      const h = harness()
      h.s.receive(c(Opcode.Close, payload))
      expect(h.failures[0]?.closeCode).toBe(code)
      expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(code)
    }
  })

  it('a peer Close with an error code is echoed and fails the connection (ERR_WS_CLOSED_BY_PEER)', () => {
    const h = harness()
    h.s.receive(c(Opcode.Close, encodeClosePayload(4001, 'app')))
    expect(h.failures[0]?.code).toBe('ERR_WS_CLOSED_BY_PEER')
    expect(h.failures[0]?.closeCode).toBe(4001)
    expect(closeCodeOf(h.sent()[0] as { payload: Uint8Array })).toBe(4001)
  })

  it('close() without an answer: closed by the deadline of the injected clock', () => {
    const h = harness()
    h.s.close()
    expect(h.s.nextDeadline()).toBe(1000)
    h.clock.t = 999
    h.s.tick()
    expect(h.closed).toEqual([])
    h.clock.t = 1000
    h.s.tick()
    expect(h.closed).toEqual([true])
  })

  it('TCP ending between messages is the end of the stream; inside a message a failure', () => {
    const h = harness()
    h.s.receive(c(Opcode.Binary, 'x'))
    h.s.transportEnded()
    expect(h.ends).toEqual([1006])
    const h2 = harness()
    h2.s.receive(c(Opcode.Binary, 'x', false))
    h2.s.transportEnded()
    expect(h2.failures[0]?.code).toBe('ERR_WS_PROTOCOL')
  })

  it('outgoing: one frame per batch; a client masks a copy; batches above maxSendFrameBytes are split', () => {
    const server = harness('server')
    const a = new Uint8Array([1, 2])
    const b = new Uint8Array([3])
    const frames = server.s.encodeData([a, b])
    expect(frames[1]).toBe(a)
    expect(frames[2]).toBe(b)
    const client = harness('client')
    const cf = client.s.encodeData([a, b])
    expect(cf).toHaveLength(1)
    expect(a).toEqual(new Uint8Array([1, 2]))
    const hd = decodeFrameHeader(cf[0] as Uint8Array)
    expect(hd).toMatchObject({ masked: true, length: 3, opcode: Opcode.Binary, fin: true })
    const split = new WsSession({
      role: 'server',
      now: () => 0,
      randomFill: () => {},
      maxSendFrameBytes: 4,
      host: { onData () {}, onOutput () {}, onRemoteEnd () {}, onClosed () {}, onFailure () {} }
    })
    const parts = split.encodeData([new Uint8Array(5), new Uint8Array(5)])
    const all = concat(parts)
    const lengths: number[] = []
    for (let at = 0; at < all.length;) {
      const hd = decodeFrameHeader(all, at) as NonNullable<ReturnType<typeof decodeFrameHeader>>
      lengths.push(hd.length)
      at += hd.headerLength + hd.length
    }
    expect(lengths).toEqual([4, 4, 2])
  })
})
