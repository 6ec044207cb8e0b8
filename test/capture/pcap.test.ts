import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readCapture, readPcap } from '../../src/capture/pcap.js'
import type { CapturePacket } from '../../src/capture/pcap.js'
import { readPcapng } from '../../src/capture/pcapng.js'
import { CaptureError } from '../../src/capture/errors.js'
import { writePcap, writePcapng } from './synth.js'
import type { Frame } from './synth.js'

const frameArb = fc.record({
  time: fc.integer({ min: 200, max: 2 ** 31 }).map(s => s * 1000).chain(ms =>
    fc.integer({ min: 0, max: 999_999 }).map(us => ms + us / 1000)
  ),
  data: fc.uint8Array({ maxLength: 200 })
})

/** Read every packet, then the error (if any). */
function drain (gen: () => Iterable<CapturePacket>): { packets: CapturePacket[], error: unknown } {
  const packets: CapturePacket[] = []
  try {
    for (const p of gen()) packets.push(p)
  } catch (err) {
    return { packets, error: err }
  }
  return { packets, error: undefined }
}

function expectFrames (packets: CapturePacket[], frames: Frame[], linkType: number, precisionMs: number): void {
  expect(packets).toHaveLength(frames.length)
  packets.forEach((p, i) => {
    const f = frames[i] as Frame
    expect(p.index).toBe(i + 1)
    expect(p.linkType).toBe(linkType)
    expect(p.data).toEqual(f.data)
    expect(Math.abs(p.time - f.time)).toBeLessThanOrEqual(precisionMs)
  })
}

describe('pcap reader', () => {
  it('reads µs and ns files in both byte orders', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(1, 113, 276, 0, 101),
        (frames, le, ns, linkType) => {
          const buf = writePcap(frames, linkType, { littleEndian: le, nanoseconds: ns })
          const { packets, error } = drain(() => readPcap(buf))
          expect(error).toBeUndefined()
          expectFrames(packets, frames, linkType, 0.001)
          expect(drain(() => readCapture(buf)).packets).toHaveLength(frames.length)
        }
      )
    )
  })

  it('a file cut at any offset yields the whole packets before the cut, then a CaptureError naming the record', () => {
    const frames: Frame[] = [{ time: 1000, data: Uint8Array.of(1, 2, 3) }, {
      time: 2000,
      data: new Uint8Array(40).fill(7)
    }]
    const buf = writePcap(frames, 1)
    for (let cut = 0; cut < buf.length; cut++) {
      const { packets, error } = drain(() => readCapture(buf.subarray(0, cut)))
      const whole = cut >= 24 + 16 + 3 + 16 + 40 ? 2 : cut >= 24 + 16 + 3 ? 1 : 0
      expect(packets).toHaveLength(whole)
      if (cut === 24 || cut === 24 + 16 + 3) { expect(error).toBeUndefined(); continue }
      expect(error).toBeInstanceOf(CaptureError)
      expect((error as CaptureError).code).toBe('ERR_CAPTURE')
      if (cut > 24) expect((error as Error).message).toMatch(/record \d at offset \d+ is truncated/)
    }
  })

  it('refuses an impossible captured length and a bad version', () => {
    const buf = writePcap([{ time: 0, data: new Uint8Array(4) }], 1)
    const big = buf.slice(); new DataView(big.buffer).setUint32(24 + 8, 10_000_000, true)
    expect(() => [...readPcap(big)]).toThrow(/"captured length" expected <= 262144, got 10000000/)
    const v = buf.slice(); v[4] = 3
    expect(() => [...readPcap(v)]).toThrow(/"major version" expected 2, got 3/)
  })

  it('names what it got for a file that is neither format', () => {
    expect(() => readCapture(Uint8Array.of(0x50, 0x4b, 3, 4))).toThrow(/got a file starting with 504b0304/)
    expect(() => readCapture(new Uint8Array(0))).toThrow(/empty file/)
  })

  it('random bytes: CaptureError or packets, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (garbage, asPcap) => {
      const buf = asPcap ? Uint8Array.from([...writePcap([], 1).subarray(0, 24), ...garbage]) : garbage
      try {
        for (const p of readCapture(buf)) expect(p.data.length).toBeLessThanOrEqual(buf.length)
      } catch (err) {
        expect(err).toBeInstanceOf(CaptureError)
      }
    }))
  })
})

describe('pcapng reader', () => {
  it('reads sections, interfaces, resolutions and offsets in both byte orders; skips unknown blocks', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.constantFrom(undefined, 6, 9, 3, 0x80 | 20),
        fc.boolean(),
        (frames, le, tsresol, withOffset) => {
          const ifaces = [{ linkType: 1, tsresol, tsoffset: withOffset ? 100 : undefined }, { linkType: 276 }]
          const buf = writePcapng([
            {
              littleEndian: le,
              interfaces: ifaces,
              packets: frames.map((f, i) => ({ iface: i % 2, frame: f })),
              extraBlock: true
            },
            { littleEndian: !le, interfaces: [{ linkType: 113 }], packets: [{ iface: 0, frame: frames[0] as Frame }] }
          ])
          const { packets, error } = drain(() => readCapture(buf))
          expect(error).toBeUndefined()
          expect(packets).toHaveLength(frames.length + 1)
          frames.forEach((f, i) => {
            const p = packets[i] as CapturePacket
            expect(p.linkType).toBe(i % 2 === 0 ? 1 : 276)
            expect(p.data).toEqual(f.data)
            const precision = i % 2 === 0 && tsresol === 3 ? 1 : 0.01
            expect(Math.abs(p.time - f.time)).toBeLessThanOrEqual(precision)
          })
          expect(packets[frames.length]?.linkType).toBe(113)
        }
      )
    )
  })

  it('reads simple packet blocks (no time) and obeys the snap length', () => {
    const buf = writePcapng([{
      interfaces: [{ linkType: 101, snapLength: 3 }],
      packets: [{ iface: 0, simple: true, frame: { time: 0, data: Uint8Array.of(1, 2, 3, 4, 5), originalLength: 5 } }]
    }])
    const [p] = [...readPcapng(buf)]
    expect(p?.data).toEqual(Uint8Array.of(1, 2, 3))
    expect(p?.originalLength).toBe(5)
  })

  it('refuses a packet on an undeclared interface, a bad byte-order magic, inconsistent lengths', () => {
    const good = writePcapng([{
      interfaces: [{ linkType: 1 }],
      packets: [{ iface: 0, frame: { time: 1, data: Uint8Array.of(9) } }]
    }])
    const bad = writePcapng([{
      interfaces: [{ linkType: 1 }],
      packets: [{ iface: 0, frame: { time: 1, data: Uint8Array.of(9) } }]
    }])
    // EPB interface id is the first body word of the third block
    const epb = 28 + 24
    new DataView(bad.buffer).setUint32(epb + 8, 5, true)
    expect(() => [...readPcapng(bad)]).toThrow(
      /"interface id" expected < 1 \(interfaces declared in this section\), got 5/
    )
    const magic = good.slice()
    magic[8] = 0
    expect(() => [...readPcapng(magic)]).toThrow(/"byte-order magic" expected 1a2b3c4d/)
    const trailer = good.slice(); trailer[good.length - 1] = 0x7f
    expect(() => [...readPcapng(trailer)]).toThrow(/"trailing block total length"/)
  })

  it('a file cut at any offset yields whole packets, then a CaptureError', () => {
    const frames: Frame[] = [{ time: 5, data: Uint8Array.of(1, 2, 3) }, { time: 6, data: new Uint8Array(41) }]
    const buf = writePcapng([{ interfaces: [{ linkType: 1 }], packets: frames.map(f => ({ iface: 0, frame: f })) }])
    let previous = 0
    for (let cut = 1; cut < buf.length; cut++) {
      const { packets, error } = drain(() => readCapture(buf.subarray(0, cut)))
      expect(packets.length).toBeGreaterThanOrEqual(previous)
      previous = packets.length
      if (error !== undefined) expect(error).toBeInstanceOf(CaptureError)
      else expect(packets.length === 0 || packets.length === 1).toBe(true) // only at block boundaries
    }
    expect(previous).toBe(1)
  })

  it('random bytes after a section header: CaptureError or packets, never another exception', () => {
    const shb = writePcapng([{ interfaces: [{ linkType: 1 }], packets: [] }])
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (garbage) => {
      try {
        for (const _ of readCapture(Uint8Array.from([...shb, ...garbage]))) { /* drain */ }
      } catch (err) {
        expect(err).toBeInstanceOf(CaptureError)
      }
    }))
  })
})
