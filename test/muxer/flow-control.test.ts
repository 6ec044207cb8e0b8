import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { WINDOW_GROWTH_FACTOR, WINDOW_GROWTH_RTTS } from '../../src/muxer/constants.js'
import { ReceiveWindow, SendWindow, WindowBudget } from '../../src/muxer/flow-control.js'

const KiB = 1024
const MiB = 1024 * KiB

function rw (opts: { initial?: number, max?: number, budget?: number } = {}): { w: ReceiveWindow, b: WindowBudget } {
  const b = new WindowBudget(opts.budget ?? 64 * MiB)
  return {
    w: new ReceiveWindow({ initialWindow: opts.initial ?? 256 * KiB, maxWindow: opts.max ?? 16 * MiB, budget: b }),
    b
  }
}

describe('ReceiveWindow', () => {
  it('starts at the implicit 256 KiB; a bigger initial window is an opening delta', () => {
    expect(rw().w.openingDelta(0)).toBe(0)
    const { w } = rw({ initial: 1 * MiB })
    expect(w.credit).toBe(256 * KiB)
    expect(w.openingDelta(0)).toBe(768 * KiB)
    expect(w.credit).toBe(1 * MiB)
  })

  it('fits: exactly the credit', () => {
    const { w } = rw()
    expect(w.fits(262144)).toBe(true)
    expect(w.fits(262145)).toBe(false)
    w.onReceived(100)
    expect(w.fits(262044)).toBe(true)
    expect(w.fits(262045)).toBe(false)
  })

  it('grants nothing on receipt, and on read only once half the window is free', () => {
    const { w } = rw()
    w.onReceived(200 * KiB)
    expect(w.nextUpdate(0, 0)).toBe(0)
    w.onConsumed(128 * KiB - 1)
    expect(w.nextUpdate(0, 0)).toBe(0)
    w.onConsumed(1)
    expect(w.nextUpdate(0, 0)).toBe(128 * KiB)
    expect(w.credit + w.buffered).toBe(w.window)
  })

  it(`grows ${WINDOW_GROWTH_FACTOR}x when half a window went by within ${WINDOW_GROWTH_RTTS} RTT, never beyond the maximum`, () => {
    const { w } = rw({ max: 16 * MiB })
    const windows: number[] = []
    let t = 0
    for (let i = 0; i < 6; i++) {
      const n = w.credit
      w.onReceived(n)
      w.onConsumed(n)
      t += 5
      w.nextUpdate(t, 10)
      windows.push(w.window)
      w.assertInvariants()
    }
    // first update: no previous update and no Data frame time to compare with
    expect(windows).toEqual([256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 16 * MiB, 16 * MiB])
    expect(WINDOW_GROWTH_FACTOR).toBe(4)
    expect(WINDOW_GROWTH_RTTS).toBe(4)
  })

  it(`does not grow when the half window took longer than ${WINDOW_GROWTH_RTTS} RTT, or without RTT`, () => {
    const { w } = rw()
    let t = 0
    for (let i = 0; i < 10; i++) {
      w.onReceived(w.credit)
      w.onConsumed(w.buffered)
      t += WINDOW_GROWTH_RTTS * 10
      w.nextUpdate(t, 10)
    }
    expect(w.window).toBe(256 * KiB)
    for (let i = 0; i < 10; i++) {
      w.onReceived(w.credit)
      w.onConsumed(w.buffered)
      w.nextUpdate(t, 0)
    }
    expect(w.window).toBe(256 * KiB)
  })

  it('growth stops at the connection budget; release returns the window', () => {
    const b = new WindowBudget(700 * KiB)
    const ws = [0, 1].map(() => new ReceiveWindow({ initialWindow: 256 * KiB, maxWindow: 16 * MiB, budget: b }))
    expect(b.reserved).toBe(512 * KiB)
    for (let i = 0; i < 10; i++) {
      for (const w of ws) {
        w.onReceived(w.credit)
        w.onConsumed(w.buffered)
        w.nextUpdate(i, 1000)
      }
    }
    expect(b.reserved).toBe(700 * KiB)
    ws[0]?.release()
    ws[0]?.release()
    expect(b.reserved).toBe(700 * KiB - (ws[0]?.window ?? 0))
  })

  it('invariant buffered + credit <= window holds under any legal sequence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('recv', 'read', 'update'), fc.nat(400_000), fc.nat(50)), { maxLength: 200 }),
        (ops) => {
          const { w } = rw({ max: 4 * MiB, budget: 8 * MiB })
          let t = 0
          for (const [op, n, dt] of ops) {
            t += dt
            if (op === 'recv') {
              const k = Math.min(n, w.credit)
              if (w.fits(k)) w.onReceived(k)
            }
            if (op === 'read') w.onConsumed(Math.min(n, w.buffered))
            if (op === 'update') {
              const before = w.credit
              const d = w.nextUpdate(t, 20)
              expect(d === 0 || d >= w.window / 4).toBe(true)
              expect(w.credit).toBe(before + d)
            }
            w.assertInvariants()
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe('SendWindow', () => {
  it('starts at 256000, adds deltas, never goes negative, caps at 2^32-1', () => {
    const s = new SendWindow()
    expect(s.credit).toBe(256_000)
    expect(s.take(300_000)).toBe(256_000)
    expect(s.take(1)).toBe(0)
    s.grow(10)
    expect(s.take(100)).toBe(10)
    s.grow(2 ** 32 - 1)
    s.grow(2 ** 32 - 1)
    expect(s.credit).toBe(2 ** 32 - 1)
  })
})
