import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { formatKeyLog, KeyLogError, KeyLogWriter, keyLogWarning, parseKeyLog } from '../../src/trace/keylog.js'
import type { NoiseKeys } from '../../src/trace/keylog.js'
import { SwitchyardError } from '../../src/errors.js'

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b)

const sample: NoiseKeys = {
  localAddr: '/ip4/127.0.0.1/tcp/50312',
  remoteAddr: '/ip4/127.0.0.1/tcp/4001',
  role: 'initiator',
  initiatorToResponder: key(1),
  responderToInitiator: key(2),
  handshakeHash: key(3)
}

const dir = mkdtempSync(join(tmpdir(), 'switchyard-keylog-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('key log format', () => {
  it('writes the documented line', () => {
    expect(formatKeyLog(sample)).toBe(
      'SWITCHYARD_NOISE /ip4/127.0.0.1/tcp/50312 /ip4/127.0.0.1/tcp/4001 initiator ' +
      '01'.repeat(32) + ' ' + '02'.repeat(32) + ' ' + '03'.repeat(32) + '\n')
  })

  it('adds the handshake line when the handshake keys are there', () => {
    const text = formatKeyLog({ ...sample, handshakeKeys: { ee: key(4), es: key(5), se: key(6) } })
    const lines = text.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toBe('SWITCHYARD_NOISE_HANDSHAKE /ip4/127.0.0.1/tcp/50312 /ip4/127.0.0.1/tcp/4001 initiator ' +
      '04'.repeat(32) + ' ' + '05'.repeat(32) + ' ' + '06'.repeat(32))
  })

  it('refuses wrong key sizes and addresses with spaces', () => {
    expect(() => formatKeyLog({ ...sample, handshakeHash: new Uint8Array(31) })).toThrow(RangeError)
    expect(() => formatKeyLog({ ...sample, localAddr: 'a b' })).toThrow(TypeError)
  })

  it('round-trips any keys and finds them by handshake hash', () => {
    const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
    fc.assert(
      fc.property(
        bytes32,
        bytes32,
        bytes32,
        fc.option(fc.tuple(bytes32, bytes32, bytes32), { nil: undefined }),
        fc.boolean(),
        (k1, k2, h, hk, initiator) => {
          const k: NoiseKeys = {
            ...sample,
            role: initiator ? 'initiator' : 'responder',
            initiatorToResponder: k1,
            responderToInitiator: k2,
            handshakeHash: h
          }
          if (hk !== undefined) k.handshakeKeys = { ee: hk[0], es: hk[1], se: hk[2] }
          const log = parseKeyLog('# comment\n\n' + formatKeyLog(k))
          expect(log.size).toBe(1)
          expect(log.find(h)).toEqual(k)
        }
      )
    )
  })

  it('skips comments, blank lines and other labels; keeps one entry when both ends log the same connection', () => {
    const responder: NoiseKeys = {
      ...sample,
      localAddr: sample.remoteAddr,
      remoteAddr: sample.localAddr,
      role: 'responder',
      handshakeKeys: { ee: key(7), es: key(8), se: key(9) }
    }
    const text = '# switchyard\nCLIENT_RANDOM aa bb\n' + formatKeyLog(sample) + formatKeyLog(responder)
    const log = parseKeyLog(text)
    expect(log.size).toBe(1)
    expect(log.find(key(3))?.handshakeKeys?.es).toEqual(key(8))
    expect(log.find(key(4))).toBeUndefined()
  })

  it('pairs each handshake line with the transport line before it, also when addresses repeat', () => {
    const a = formatKeyLog({ ...sample, handshakeKeys: { ee: key(4), es: key(5), se: key(6) } })
    const b = formatKeyLog({
      ...sample,
      handshakeHash: key(10),
      handshakeKeys: { ee: key(11), es: key(12), se: key(13) }
    })
    const log = parseKeyLog(a + b)
    expect(log.find(key(3))?.handshakeKeys?.ee).toEqual(key(4))
    expect(log.find(key(10))?.handshakeKeys?.ee).toEqual(key(11))
  })

  it('names the line and the field of a malformed entry', () => {
    const good = formatKeyLog(sample).trimEnd()
    const cases: Array<[string, RegExp]> = [
      [good.replace(/ [0-9a-f]{64}$/, ''), /line 2: "SWITCHYARD_NOISE" expected 7 fields, got 6/],
      [good.replace('initiator', 'dialer'), /line 2: "role" expected initiator or responder, got "dialer"/],
      [good.replace(/[0-9a-f]{64}$/, 'zz'.repeat(32)), /line 2: "h" expected 64 hex digits/],
      [good.replace('01'.repeat(32), '01'.repeat(31)), /line 2: "k_i2r" expected 64 hex digits/]
    ]
    for (const [line, message] of cases) {
      let caught: unknown
      try { parseKeyLog('# x\n' + line + '\n') } catch (err) { caught = err }
      expect(caught).toBeInstanceOf(KeyLogError)
      expect(caught).toBeInstanceOf(SwitchyardError)
      expect((caught as KeyLogError).code).toBe('ERR_KEYLOG')
      expect((caught as Error).message).toMatch(message)
    }
  })

  it('never throws anything but KeyLogError on garbage', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.boolean(), (s, labelled) => {
      const text = labelled ? `SWITCHYARD_NOISE ${s}` : s
      try { parseKeyLog(text) } catch (err) { expect(err).toBeInstanceOf(KeyLogError) }
    }))
  })
})

describe('KeyLogWriter', () => {
  it('creates the file 0600 and appends one connection per call', () => {
    const path = join(dir, 'keys.log')
    const w = new KeyLogWriter(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readFileSync(path, 'utf8')).toBe('')
    w.write(sample)
    w.write({ ...sample, handshakeHash: key(9) })
    const log = parseKeyLog(readFileSync(path, 'utf8'))
    expect(log.size).toBe(2)
    expect(log.find(key(9))?.localAddr).toBe(sample.localAddr)
  })

  it('fails at construction for a path it cannot write', () => {
    expect(() => new KeyLogWriter(join(dir, 'missing-dir', 'keys.log'))).toThrow()
  })

  it('warns with the path', () => {
    expect(keyLogWarning('/tmp/k.log')).toMatch(/^WARNING: --keylog \/tmp\/k\.log: writing Noise session keys/)
  })
})
