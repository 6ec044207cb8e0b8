import { describe, expect, it } from 'vitest'
import type { ByteSink } from '../../src/connection.js'
import { CodecError, ResourceLimitError } from '../../src/errors.js'
import { DEFAULT_RESOURCE_CONFIG, ResourceManager } from '../../src/resources/manager.js'
import {
  DEFAULT_MAX_PREAUTH_BYTES,
  MAX_MULTISTREAM_STAGE_BYTES,
  TransientBytes,
  UpgradeGuard
} from '../../src/switch/upgrade-guard.js'
import { connectionPair, utf8 } from '../multistream/helpers.js'
import { noise, NOISE_MAX_PREAUTH_BYTES } from '../../src/security/noise.js'

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('UpgradeGuard', () => {
  it('counts bytes both ways while guarding, and nothing after release()', async () => {
    const [a, b] = connectionPair()
    const guard = new UpgradeGuard(a)
    const got: Uint8Array[] = []
    guard.attach({ onData: c => got.push(c), onEnd: () => {}, onClose: () => {} })
    guard.write([utf8('abc'), utf8('de')])
    b.write([utf8('12345678')])
    await tick()
    expect(guard.bytesOut).toBe(5)
    expect(guard.bytesIn).toBe(8)
    guard.release()
    guard.write([utf8('more')])
    b.write([utf8('more')])
    await tick()
    expect(guard.bytesOut).toBe(5)
    expect(guard.bytesIn).toBe(8)
    expect(got.map(c => c.length)).toEqual([8, 4])
  })

  it('aborts the connection once an unauthenticated peer sends more than the cap', async () => {
    const [a, b] = connectionPair()
    const guard = new UpgradeGuard(a, 10)
    let closedWith: Error | undefined
    const got: number[] = []
    guard.attach({ onData: c => got.push(c.length), onEnd: () => {}, onClose: err => { closedWith = err } })
    b.write([new Uint8Array(6)])
    b.write([new Uint8Array(6)])
    await tick(); await tick()
    expect(got).toEqual([6])
    expect(closedWith).toBeInstanceOf(CodecError)
    expect((closedWith as CodecError).code).toBe('ERR_MESSAGE_TOO_LARGE')
    expect(closedWith?.message).toMatch(/"bytes before authentication" expected <= 10, got 12/)
    expect(a.closed).toBe(true)
  })

  it('pins the caps: Noise declares four maximum Noise messages, 8 KiB while negotiating the security protocol, 256 KiB by default', () => {
    expect(noise().maxPreAuthBytes).toBe(4 * (65535 + 2))
    expect(NOISE_MAX_PREAUTH_BYTES).toBe(4 * (65535 + 2))
    expect(MAX_MULTISTREAM_STAGE_BYTES).toBe(8192)
    expect(DEFAULT_MAX_PREAUTH_BYTES).toBe(256 * 1024)
    expect(new UpgradeGuard(connectionPair()[0]).limit).toBe(DEFAULT_MAX_PREAUTH_BYTES)
  })

  it('release() hands back the inner connection and leaves the write path', async () => {
    const [a, b] = connectionPair()
    const guard = new UpgradeGuard(a)
    const got: number[] = []
    b.attach({ onData: c => got.push(c.length), onEnd: () => {}, onClose: () => {} })
    expect(guard.release()).toBe(a)
    expect(guard.release()).toBe(a)
    guard.write([new Uint8Array(3)])
    await tick()
    expect(got).toEqual([3])
    expect(guard.bytesOut).toBe(0)
  })
})

describe('TransientBytes: pending upgrades charge the transient scope', () => {
  const sink = (closed: Error[] = []): ByteSink => ({
    onData: () => {},
    onEnd: () => {},
    onClose: err => { if (err !== undefined) closed.push(err) }
  })

  it('charges what a pending upgrade received, shows it in inspect(), and gives it back on release and on close', async () => {
    const rm = new ResourceManager()
    const pool = new TransientBytes(rm.transient)
    const [a, b] = connectionPair()
    const [c, d] = connectionPair()
    const g1 = new UpgradeGuard(a, undefined, pool)
    const g2 = new UpgradeGuard(c, undefined, pool)
    g1.attach(sink())
    g2.attach(sink())
    b.write([new Uint8Array(1000)])
    d.write([new Uint8Array(300)])
    await tick()
    expect(rm.inspect().transient.usage.memoryBytes).toBe(1300)
    expect(rm.inspect().process.usage.memoryBytes).toBe(1300)
    expect(rm.inspect().transient.limits.memoryBytes).toBe(DEFAULT_RESOURCE_CONFIG.transient.memoryBytes)
    g1.release()
    expect(rm.inspect().transient.usage.memoryBytes).toBe(300)
    c.abort(new Error('gone'))
    await tick()
    expect(rm.inspect().transient.usage.memoryBytes).toBe(0)
    expect(rm.process.memory).toBe(0)
    expect(pool.size).toBe(0)
  })

  it('when the scope is full, the pending upgrade holding the most is closed with ERR_RESOURCE_LIMIT and the small one goes on', async () => {
    const rm = new ResourceManager({ transient: { memoryBytes: 10_000 } })
    const pool = new TransientBytes(rm.transient)
    const [a, b] = connectionPair()
    const [c, d] = connectionPair()
    const bigClosed: Error[] = []
    const smallClosed: Error[] = []
    const small: number[] = []
    const big = new UpgradeGuard(a, undefined, pool)
    const honest = new UpgradeGuard(c, undefined, pool)
    big.attach(sink(bigClosed))
    honest.attach({ ...sink(smallClosed), onData: ch => small.push(ch.length) })
    b.write([new Uint8Array(9_000)])
    await tick()
    expect(rm.transient.memory).toBe(9_000)
    d.write([new Uint8Array(2_000)])
    await tick(); await tick()
    expect(small).toEqual([2_000])
    expect(a.closed).toBe(true)
    expect(bigClosed[0]).toBeInstanceOf(ResourceLimitError)
    expect((bigClosed[0] as ResourceLimitError).code).toBe('ERR_RESOURCE_LIMIT')
    expect(bigClosed[0]?.message).toMatch(/"transient memory" expected <= 10000 bytes, got 11000 .*closed the pending upgrade holding the most \(.*9000 bytes\)/)
    expect(smallClosed).toEqual([])
    expect(rm.transient.memory).toBe(2_000)
    expect(rm.inspect().transient.usage.refused.memory).toBe(1)
  })

  it('the upgrade that is itself the largest is the one closed', async () => {
    const rm = new ResourceManager({ transient: { memoryBytes: 10_000 } })
    const pool = new TransientBytes(rm.transient)
    const [a, b] = connectionPair()
    const [c, d] = connectionPair()
    const closed: Error[] = []
    const first = new UpgradeGuard(a, undefined, pool)
    const greedy = new UpgradeGuard(c, undefined, pool)
    first.attach(sink())
    greedy.attach(sink(closed))
    b.write([new Uint8Array(3_000)])
    await tick()
    d.write([new Uint8Array(4_000)])
    await tick()
    d.write([new Uint8Array(4_000)])
    await tick(); await tick()
    expect(c.closed).toBe(true)
    expect(closed[0]).toBeInstanceOf(ResourceLimitError)
    expect(closed[0]?.message).toMatch(/"transient memory" expected <= 10000 bytes, got 11000/)
    expect(a.closed).toBe(false)
    expect(rm.transient.memory).toBe(3_000)
  })

  it('the transient limit is configurable and validated', () => {
    expect(DEFAULT_RESOURCE_CONFIG.transient.memoryBytes).toBe(8 * 1024 * 1024)
    expect(new ResourceManager({ transient: { memoryBytes: 1 } }).transient.limits.memoryBytes).toBe(1)
    expect(() => new ResourceManager({ transient: { memoryBytes: -1 } })).toThrow(/"resources.transient.memoryBytes"/)
  })
})
