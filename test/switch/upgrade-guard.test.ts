import { describe, expect, it } from 'vitest'
import { CodecError } from '../../src/errors.js'
import { DEFAULT_MAX_PREAUTH_BYTES, MAX_MULTISTREAM_STAGE_BYTES, UpgradeGuard } from '../../src/switch/upgrade-guard.js'
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
