/**
 * Retransmission after a spurious loss (RFC 9002 §6.1: a packet declared lost may still be
 * acknowledged later): the send buffer must not build frames from bytes it already released.
 */
import { describe, expect, it } from 'vitest'
import { SendBuffer } from '../../../src/transport/quic/send-buffer.js'

describe('SendBuffer after a late acknowledgement', () => {
  it('a range declared lost and then acknowledged is not sent again; the FIN stays at the final size', () => {
    const b = new SendBuffer()
    b.write(new Uint8Array(1000).fill(1))
    b.write(new Uint8Array(500).fill(2))
    b.finish()
    const f1 = b.nextFrame(1200, Infinity)
    const f2 = b.nextFrame(1200, Infinity)
    expect([f1?.offset, f1?.data.length, f1?.fin, f2?.offset, f2?.data.length, f2?.fin]).toEqual([
      0,
      1200,
      false,
      1200,
      300,
      true
    ])
    // the first packet is declared lost, then its ACK arrives anyway
    b.onLost(0, 1200, false)
    b.onAcked(0, 1200, false)
    // nothing of [0, 1200) goes again: only new or unacknowledged data could
    expect(b.nextFrame(1200, Infinity)).toBeUndefined()
    // the second packet lost after a partial late ACK: only the unacknowledged rest, FIN at 1500
    b.onLost(1200, 300, true)
    b.onAcked(1200, 100, false)
    const r = b.nextFrame(1200, Infinity)
    expect(r).toMatchObject({ offset: 1300, fin: true })
    expect(r?.data.length).toBe(200)
    expect(r?.data.every(x => x === 2)).toBe(true)
  })

  it('a lost FIN whose data was acknowledged meanwhile goes again as an empty frame at the final size', () => {
    const b = new SendBuffer()
    b.write(new Uint8Array(10))
    b.finish()
    b.nextFrame(100, Infinity)
    b.onLost(0, 10, true)
    b.onAcked(0, 10, false)
    expect(b.hasPending(Infinity)).toBe(true)
    expect(b.nextFrame(100, Infinity)).toMatchObject({ offset: 10, fin: true, data: new Uint8Array(0) })
    b.onAcked(10, 0, true)
    expect(b.state).toBe('DataRecvd')
    expect(b.hasPending(Infinity)).toBe(false)
  })
})
