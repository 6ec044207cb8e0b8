/**
 * Helpers of the Wireshark tests: record loopback with dumpcap, run `wireshark/tshark.sh … -T pdml`,
 * run `switchyard decode … --trace-file`, and bring both to the same comparable shape.
 */
import { execFile, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeCapture } from '../../src/capture/decode-capture.js'
import { main } from '../../src/cli/main.js'
import { recordingIo } from '../helpers/cli-io.js'
import { parseJsonl } from '../../src/trace/format-jsonl.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..')
export const TSHARK_SH = join(ROOT, 'wireshark', 'tshark.sh')
export const FIXTURES = join(ROOT, 'test', 'wireshark', 'fixtures')

/** A running dumpcap on the loopback interface, limited to one TCP port. */
export interface Recording { stop: () => Promise<void> }

function seenAny (buf: Uint8Array): boolean {
  try { return decodeCapture(buf).tcpSegments > 0 } catch { return false }
}

/** The capture holds a libp2p connection, and every TCP connection in it was closed (FIN both ways, or RST). */
function allClosed (buf: Uint8Array): boolean {
  try {
    const r = decodeCapture(buf)
    return r.connections.some(c => c.records.some(e => e.layer === 'multistream')) &&
      r.connections.every(c => c.records.some(e => e.layer === 'tcp' && e.kind === 'close'))
  } catch {
    return false
  }
}

/**
 * Start dumpcap on `lo` for `tcp port <port>`; resolves once it is capturing. dumpcap writes to a
 * pipe (which it flushes packet by packet); `stop()` waits until every connection recorded so far
 * has closed (dumpcap has seen the last packets), then stops it and writes `file`. A missing dumpcap,
 * or one without the right to capture, rejects: the test fails, it never skips.
 */
export async function record (port: number, file: string): Promise<Recording> {
  const p = spawn('dumpcap', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', '-', '-q'], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const chunks: Buffer[] = []
  p.stdout.on('data', (d: Buffer) => { chunks.push(d) })
  let err = ''
  const exited = new Promise<void>(resolve => { p.on('exit', () => { resolve() }) })
  await new Promise<void>((resolve, reject) => {
    p.on('error', reject)
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.includes('Capturing on')) resolve()
    })
    void exited.then(() => { reject(new Error(`dumpcap exited before capturing: ${err.trim()}`)) })
  })
  // "Capturing on" comes a little before the filter is live: probe with empty TCP connections to
  // the port until one shows up in the capture (decoders show them as connections without data).
  const deadline = Date.now() + 10_000
  while (!seenAny(Buffer.concat(chunks))) {
    if (Date.now() > deadline) {
      p.kill('SIGINT')
      throw new Error(`dumpcap did not record a probe connection to port ${port}: ${err.trim()}`)
    }
    await new Promise<void>(resolve => {
      const s = connect(port, '127.0.0.1', () => { s.end() })
      s.on('error', () => { resolve() })
      s.on('close', () => { resolve() })
    })
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    stop: async () => {
      const deadline = Date.now() + 10_000
      while (!allClosed(Buffer.concat(chunks)) && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      p.kill('SIGINT')
      await exited
      writeFileSync(file, Buffer.concat(chunks))
    }
  }
}

/** Run wireshark/tshark.sh; rejects with tshark's stderr when it fails. */
export async function tshark (capture: string, keylog: string | undefined, args: readonly string[]): Promise<string> {
  const argv = [TSHARK_SH, capture, ...(keylog !== undefined ? ['--keylog', keylog] : []), ...args]
  return await new Promise((resolve, reject) => {
    execFile('bash', argv, { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`tshark.sh failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

export interface PdmlField { name: string, show: string, showname: string, value: string | undefined }
export interface PdmlProto { frame: number, name: string, fields: PdmlField[] }

const OURS = new Set(['libp2p', 'multistream', 'noise', 'yamux', 'mplex'])

function unescapeXml (s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, '\'').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(
    /&#x([0-9a-fA-F]+);/g,
    (_, h: string) => String.fromCodePoint(parseInt(h, 16))
  ).replace(/&amp;/g, '&')
}

function attrs (s: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of s.matchAll(/(\w+)="([^"]*)"/g)) out[m[1] as string] = unescapeXml(m[2] as string)
  return out
}

/** The outermost libp2p/multistream/noise/yamux/mplex items of every packet, with every field inside. */
export function parsePdml (xml: string): PdmlProto[] {
  const out: PdmlProto[] = []
  for (const packet of xml.split('<packet>').slice(1)) {
    const frame = Number(/<field name="frame\.number"[^>]*? show="(\d+)"/.exec(packet)?.[1] ?? '0')
    let depth = 0
    let open: { proto: PdmlProto, depth: number } | undefined
    for (const m of packet.matchAll(/<proto ([^>]*?)(\/?)>|<\/proto>|<field ([^>]*?)\/?>/g)) {
      if (m[0].startsWith('</proto')) {
        if (open !== undefined && depth === open.depth) open = undefined
        depth--
        continue
      }
      if (m[0].startsWith('<proto')) {
        const a = attrs(m[1] as string)
        const selfClosing = m[2] === '/'
        if (!selfClosing) depth++
        if (open === undefined && OURS.has(a.name ?? '')) {
          const proto: PdmlProto = { frame, name: a.name as string, fields: [] }
          out.push(proto)
          if (!selfClosing) open = { proto, depth }
        }
        continue
      }
      if (open === undefined) continue
      const a = attrs(m[3] as string)
      if (a.name === undefined) continue
      open.proto.fields.push({ name: a.name, show: a.show ?? '', showname: a.showname ?? '', value: a.value })
    }
  }
  return out
}

export function field (p: PdmlProto, name: string): string | undefined {
  return p.fields.find(f => f.name === name)?.show
}

function has (p: PdmlProto, name: string): boolean {
  return p.fields.some(f => f.name === name)
}

/** What both views must agree on, per direction where order matters. */
export interface Comparable {
  connectionMultistream: Record<'out' | 'in', string[]>
  handshake: string[]
  transport: Record<'out' | 'in', number[]>
  yamux: Record<'out' | 'in', string[]>
  mplex: Record<'out' | 'in', string[]>
  protocols: string[]
  streamMultistream: Record<string, string[]>
  messages: Record<string, string[]>
}

function empty (): Comparable {
  return {
    connectionMultistream: { out: [], in: [] },
    handshake: [],
    transport: { out: [], in: [] },
    yamux: { out: [], in: [] },
    mplex: { out: [], in: [] },
    protocols: [],
    streamMultistream: {},
    messages: {}
  }
}

function push (m: Record<string, string[]>, key: string, v: string): void {
  (m[key] ??= []).push(v)
}

const dirOf = (d: string | undefined): 'out' | 'in' => d === '0' ? 'out' : 'in'
const openerOf = (o: string | undefined): string => o === '0' ? 'client' : 'server'

/** tshark's view (PDML) as a Comparable. */
export function fromTshark (protos: readonly PdmlProto[]): Comparable {
  const c = empty()
  for (const p of protos) {
    const dir = dirOf(field(p, 'libp2p.direction'))
    if (p.name === 'multistream' && has(p, 'multistream.message')) {
      const msg = field(p, 'multistream.message') as string
      if (has(p, 'libp2p.stream')) {
        push(
          c.streamMultistream,
          `${openerOf(field(p, 'libp2p.stream.opener'))} ${field(p, 'libp2p.stream') as string} ${dir}`,
          msg
        )
      } else c.connectionMultistream[dir].push(msg)
    } else if (p.name === 'noise' && has(p, 'noise.handshake')) {
      c.handshake.push(
        `${field(p, 'noise.handshake') as string} ${dir} ${field(p, 'noise.length') as string} ${
          field(p, 'libp2p.peer_id') ?? '-'
        }`
      )
    } else if (p.name === 'noise' && has(p, 'noise.ciphertext')) {
      c.transport[dir].push(Number(field(p, 'noise.length')))
    } else if (p.name === 'yamux' && has(p, 'yamux.type')) {
      c.yamux[dir].push(
        `${field(p, 'yamux.type') as string} ${Number(field(p, 'yamux.flags'))} ${field(
          p,
          'yamux.stream_id'
        ) as string} ${field(p, 'yamux.length') as string}`
      )
    } else if (p.name === 'mplex' && has(p, 'mplex.flag')) {
      c.mplex[dir].push(
        `${field(p, 'mplex.stream_id') as string} ${field(p, 'mplex.flag') as string} ${field(
          p,
          'mplex.length'
        ) as string}`
      )
    } else if (p.name === 'libp2p' && has(p, 'libp2p.protocol') && !has(p, 'libp2p.direction')) {
      c.protocols.push(
        `${openerOf(field(p, 'libp2p.stream.opener'))} ${field(p, 'libp2p.stream') as string} ${field(
          p,
          'libp2p.protocol'
        ) as string}`
      )
    } else if (p.name === 'libp2p' && has(p, 'libp2p.message')) {
      const hex = p.fields.find(f => f.name === 'libp2p.message')?.value ?? ''
      push(
        c.messages,
        `${openerOf(field(p, 'libp2p.stream.opener'))} ${field(p, 'libp2p.stream') as string} ${dir}`,
        hex
      )
    }
  }
  c.protocols.sort()
  return c
}

/** `switchyard decode`'s view (its --trace-file JSON Lines) as a Comparable. */
export function fromDecode (records: ReadonlyArray<Record<string, unknown>>): Comparable {
  const c = empty()
  const opener = (r: Record<string, unknown>): string => r.opener === 'local' ? 'client' : 'server'
  for (const r of records) {
    const dir = r.dir as 'out' | 'in'
    if (r.layer === 'multistream' && r.kind === 'message') {
      if (r.stream !== undefined) {
        push(c.streamMultistream, `${opener(r)} ${String(r.stream)} ${dir}`, r.message as string)
      } else c.connectionMultistream[dir].push(r.message as string)
    } else if (r.layer === 'noise' && r.kind === 'handshake') {
      const payload = r.payload as { peerId?: string } | undefined
      c.handshake.push(`${String(r.message)} ${dir} ${String(r.length)} ${payload?.peerId ?? '-'}`)
    } else if (r.layer === 'noise' && r.kind === 'frame') {
      c.transport[dir].push(r.length as number)
    } else if (r.layer === 'yamux' && r.kind === 'frame') {
      c.yamux[dir].push(`${String(r.frameType)} ${String(r.flags)} ${String(r.streamId)} ${String(r.length)}`)
    } else if (r.layer === 'mplex' && r.kind === 'frame') {
      c.mplex[dir].push(`${String(r.streamId)} ${String(r.flag)} ${String(r.length)}`)
    } else if (r.layer === 'stream' && r.kind === 'protocol') {
      c.protocols.push(`${opener(r)} ${String(r.stream)} ${r.protocol as string}`)
    } else if (r.layer === 'stream' && r.kind === 'message') {
      push(
        c.messages,
        `${opener(r)} ${String(r.stream)} ${dir}`,
        Buffer.from(r.bytes as string ?? '', 'base64').toString('hex')
      )
    }
  }
  c.protocols.sort()
  return c
}

/** Run `switchyard decode <capture> [--keylog] --trace-file <out>` in-process; its records. */
export async function decode (
  capture: string,
  keylog: string | undefined,
  out: string
): Promise<Array<Record<string, unknown>>> {
  const d = recordingIo()
  const code = await main([
    'decode',
    capture,
    ...(keylog !== undefined ? ['--keylog', keylog] : []),
    '--trace-file',
    out
  ], d)
  if (code !== 0) throw new Error(`switchyard decode exited ${code}: ${d.stderr.join('\n')}`)
  return parseJsonl(readFileSync(out, 'utf8'))
}

/** The text of every stream message tshark showed (libp2p.message.text), in order. */
export function texts (protos: readonly PdmlProto[]): string[] {
  return protos.filter(p => p.name === 'libp2p').map(p => field(p, 'libp2p.message.text')).filter((t): t is string =>
    t !== undefined
  )
}
