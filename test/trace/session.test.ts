import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createTraceSession } from '../../src/trace/session.js'
import { noiseKeyLogLines, parseKeyLog } from '../../src/trace/keylog.js'
import { parseJsonl } from '../../src/trace/format-jsonl.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-session-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const info = { direction: 'outbound' as const, localAddr: '/ip4/127.0.0.1/tcp/1', remoteAddr: '/ip4/127.0.0.1/tcp/2' }
const keys = {
  localAddr: info.localAddr,
  remoteAddr: info.remoteAddr,
  role: 'initiator' as const,
  initiatorToResponder: new Uint8Array(32).fill(1),
  responderToInitiator: new Uint8Array(32).fill(2),
  handshakeHash: new Uint8Array(32).fill(3)
}

describe('createTraceSession', () => {
  it('nothing asked: no observer, no key log, nothing printed', async () => {
    const err: string[] = []
    const t = createTraceSession({ view: 'off', stderr: s => err.push(s) })
    expect(t.switchOptions).toEqual({})
    expect(t.tracer).toBeUndefined()
    await t.close()
    expect(err).toEqual([])
  })

  it('--trace prints the text view, --trace-file writes JSON Lines, neither writes keys', async () => {
    const err: string[] = []
    const file = join(dir, 't.jsonl')
    const t = createTraceSession({ view: 'hex', file, stderr: s => err.push(s), utc: true })
    expect(t.switchOptions.keyLog).toBeUndefined()
    const obs = t.switchOptions.observer?.(info)
    obs?.event({
      layer: 'multistream',
      kind: 'message',
      dir: 'out',
      message: '/noise',
      bytes: Uint8Array.of(7, 0x2f, 0x6e, 0x6f, 0x69, 0x73, 0x65, 0x0a)
    })
    await t.close()
    expect(err.join('')).toMatch(/#1 tcp open .*\n.*#1 {3}multistream -> \/noise\n.*0000 {2}07 2f 6e 6f 69 73 65 0a/)
    expect(parseJsonl(readFileSync(file, 'utf8')).map(o => o.kind)).toEqual(['open', 'message'])
  })

  it('--keylog warns loudly once and appends each connection\'s keys', () => {
    const err: string[] = []
    const path = join(dir, 'keys.log')
    const t = createTraceSession({ view: 'off', keylog: path, stderr: s => err.push(s) })
    expect(t.switchOptions.observer).toBeUndefined()
    expect(existsSync(path)).toBe(true)
    for (const line of noiseKeyLogLines(keys)) t.switchOptions.keyLog?.(line)
    for (const line of noiseKeyLogLines({ ...keys, handshakeHash: new Uint8Array(32).fill(9) })) {
      t.switchOptions.keyLog?.(line)
    }
    expect(err).toHaveLength(1)
    expect(err[0]).toMatch(/^WARNING: --keylog .*keys\.log: writing Noise session keys/)
    expect(parseKeyLog(readFileSync(path, 'utf8')).size).toBe(2)
  })

  it('a key log that cannot be created fails at once, naming the path', () => {
    expect(() => createTraceSession({ view: 'off', keylog: join(dir, 'no', 'such', 'k.log'), stderr: () => {} }))
      .toThrow(/k\.log/)
  })
})
