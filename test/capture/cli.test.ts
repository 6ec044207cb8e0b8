/**
 * The CLI's tracing options and `decode` command, run in-process through `main` (the compiled CLI
 * is exercised by test/cli): `stream --trace --trace-file --keylog` through a recording proxy, then
 * `decode` of that capture with that key log.
 */
import { waitFor } from '../helpers/wait.js'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import { streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { main } from '../../src/cli/main.js'
import { recordingIo as io } from '../helpers/cli-io.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import { parseJsonl } from '../../src/trace/format-jsonl.js'
import { LoopbackRecorder } from './recorder.js'
import { frameOf, writePcapng } from './synth.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-trace-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('switchyard stream --trace --trace-file --keylog, then switchyard decode', () => {
  it('traces the exchange, logs the keys, and decodes the capture back to the same messages', async () => {
    const server = newStandardSwitch({ log: () => {} })
    server.mount(streamProtoProtocol)
    await server.start()
    const a = server.peerInfo.addrs[0]?.toNodeAddress()
    if (a === undefined) throw new Error('no address')
    const recorder = await LoopbackRecorder.start({ host: a.host, port: a.port })
    const keylog = join(dir, 'keys.log')
    const traceFile = join(dir, 'trace.jsonl')
    const client = io()
    let code: number
    try {
      code = await main([
        'stream',
        `/ip4/127.0.0.1/tcp/${recorder.port}/p2p/${server.peerId.toString()}`,
        '--trace',
        '--trace-file',
        traceFile,
        '--keylog',
        keylog
      ], client)
      await waitFor('the recorder to see both FINs', () => recorder.openFlows === 0)
    } finally {
      await server.stop()
      await recorder.stop()
    }
    expect(code).toBe(0)
    expect(client.stdout).toEqual(Array.from({ length: 11 }, (_, i) => `[client] received from server: Part ${i}`))
    // stderr: the key log warning, then the trace lines (no blank lines: one line per io.err)
    expect(client.stderr[0]).toMatch(/^WARNING: --keylog .*keys\.log: writing Noise session keys/)
    const trace = client.stderr.join('\n')
    expect(client.stderr.every(l => !l.endsWith('\n'))).toBe(true)
    expect(trace).toMatch(/#1 tcp open \/ip4\/127\.0\.0\.1\/tcp\/\d+ -> \/ip4\/127\.0\.0\.1\/tcp\/\d+ \(outbound\)/)
    expect(trace).toContain('#1     noise -> e (32 B)')
    expect(trace).toMatch(/\[\d+\] <- "Part 10" \(7 B\)/)
    // the JSON Lines file holds the same events
    const records = parseJsonl(readFileSync(traceFile, 'utf8'))
    expect(records.filter(r => r.layer === 'noise' && r.kind === 'handshake').map(r => r.message)).toEqual([1, 2, 3])
    // the key log: one connection, found by its handshake hash
    expect(parseKeyLog(readFileSync(keylog, 'utf8')).size).toBe(1)

    const capture = join(dir, 'wire.pcapng')
    writeFileSync(
      capture,
      writePcapng([{
        interfaces: [{ linkType: 276 }],
        packets: recorder.segments.map(s => ({ iface: 0, frame: frameOf(276, s) }))
      }])
    )
    const dec = io()
    expect(await main(['decode', capture, '--keylog', keylog, '--trace-file', join(dir, 'decoded.jsonl')], dec)).toBe(0)
    const view = dec.stdout.join('\n')
    expect(dec.stdout[0]).toMatch(/^=== connection #1: .* \(decrypted\)$/)
    expect(view).toContain('noise handshake complete: initiator')
    expect(view).toContain('-> "please send data" (16 B)')
    for (let i = 0; i <= 10; i++) expect(view).toContain(`<- "Part ${i}" (${i < 10 ? 6 : 7} B)`)
    expect(dec.stderr).toEqual([
      expect.stringMatching(/^\[decode\] \d+ packets, \d+ TCP segments, 1 connections, 1 decrypted with /)
    ])
    const decoded = parseJsonl(readFileSync(join(dir, 'decoded.jsonl'), 'utf8'))
    expect(decoded.filter(r => r.layer === 'stream' && r.kind === 'message').length).toBe(
      records.filter(r => r.layer === 'stream' && r.kind === 'message').length
    )
  }, 30_000)

  it('decode: usage errors exit 2, a missing file or a cut capture exit 1 with one line', async () => {
    const u = io()
    expect(await main(['decode'], u)).toBe(2)
    expect(u.stderr).toEqual([expect.stringMatching(/^usage error: decode takes exactly one capture file/)])
    const m = io()
    expect(await main(['decode', join(dir, 'nope.pcap')], m)).toBe(1)
    expect(m.stderr).toEqual([expect.stringMatching(/^error: .*nope\.pcap: ENOENT/)])
    const cut = join(dir, 'cut.pcap')
    writeFileSync(
      cut,
      Uint8Array.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0, 1, 2, 3])
    )
    const c = io()
    expect(await main(['decode', cut], c)).toBe(1)
    expect(c.stderr[c.stderr.length - 1]).toMatch(/^error: .*cut\.pcap: pcap: record 1 at offset 24 is truncated/)
  })

  it('--keylog into a directory that does not exist fails before connecting, naming the option; no key file appears unasked', async () => {
    const e = io()
    const path = join(dir, 'no', 'such', 'dir', 'k.log')
    expect(
      await main([
        'ping',
        '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
        '--keylog',
        path
      ], e)
    ).toBe(1)
    expect(e.stderr).toEqual([expect.stringMatching(/^error: --keylog: .*k\.log/)])
    expect(existsSync(path)).toBe(false)
  })
})
