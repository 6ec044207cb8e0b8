/**
 * `switchyard decode <capture> --keylog <file>`: a pcap/pcapng file → every TCP connection and
 * every QUIC connection in it, decoded layer by layer into the same events (and the same text
 * view) as `--trace`.
 *
 *   file ─► readCapture (pcap.ts / pcapng.ts) ─┬► parseTcpSegment (packet.ts) ─► TcpReassembler
 *                                              │    ─► decodeConnection (decode-connection.ts)
 *                                              └► parseUdpDatagram ─► QuicFlows
 *                                                   ─► decodeQuicConnection (decode-quic.ts)
 *        each connection ─► TextFormatter / JSON Lines
 *
 * A malformed or truncated file stops the reading at the bad record: the connections seen up to
 * there are still decoded, and the error is returned beside them.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { formatJsonl } from '../trace/format-jsonl.js'
import { TextFormatter } from '../trace/format-text.js'
import { parseKeyLog } from '../trace/keylog.js'
import type { KeyLog } from '../trace/keylog.js'
import { CaptureError } from './errors.js'
import { decodeConnection } from './decode-connection.js'
import type { DecodedConnection, DecodeOptions } from './decode-connection.js'
import { decodeQuicConnection, QuicFlows } from './decode-quic.js'
import { parseTcpSegment, parseUdpDatagram } from './packet.js'
import { readCapture } from './pcap.js'
import { TcpReassembler } from './reassembly.js'

export interface CaptureDecodeResult {
  connections: DecodedConnection[]
  /** Packets read, and how many of them were TCP segments and UDP datagrams. */
  packets: number
  tcpSegments: number
  udpDatagrams: number
  /** UDP address pairs that showed no QUIC v1 long header (not decoded). */
  otherUdpFlows: number
  /** Why reading stopped early, if it did. */
  error: CaptureError | undefined
}

/**
 * Decode every TCP and QUIC connection of a capture file's bytes (TCP first, then QUIC, each in
 * order of appearance; numbered on from the TCP ones). Throws only for a file that is not a
 * capture at all.
 */
export function decodeCapture (buf: Uint8Array, opts: DecodeOptions = {}): CaptureDecodeResult {
  const packets = readCapture(buf) // throws CaptureError when neither format matches
  const reassembler = new TcpReassembler()
  const flows = new QuicFlows()
  let count = 0
  let tcp = 0
  let udp = 0
  let error: CaptureError | undefined
  try {
    for (const p of packets) {
      count++
      const s = parseTcpSegment(p)
      if (s !== undefined) {
        tcp++
        reassembler.push(s)
        continue
      }
      const d = parseUdpDatagram(p)
      if (d === undefined) continue
      udp++
      flows.push(d)
    }
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err
    error = err
  }
  const connections = reassembler.finish().map(c => decodeConnection(c, opts))
  const quic = flows.finish()
  for (const c of quic.connections) {
    const id = connections.length + 1
    const q = decodeQuicConnection(c, opts.keyLog)
    for (const r of q.records) r.conn = id
    connections.push({ id, client: q.client, server: q.server, records: q.records, decrypted: q.decrypted })
  }
  return { connections, packets: count, tcpSegments: tcp, udpDatagrams: udp, otherUdpFlows: quic.otherFlows, error }
}

/** Where the `decode` command writes: one line per call, without its newline (the CLI's `CliIo` shape). */
export interface DecodeIo {
  out: (line: string) => void
  err: (line: string) => void
  /** Reads a whole file (default: node:fs). */
  readFile?: (path: string) => Uint8Array
}

/** What to decode and how to show it; the CLI's `decode` command (src/cli/commands.ts) parses them. */
export interface DecodeArgs {
  capture: string
  keylog?: string | undefined
  hex?: boolean
  utc?: boolean
  traceFile?: string | undefined
}

/**
 * Decode the capture file `args.capture` and print the layered view of every connection on
 * `io.out` (and JSON Lines to `args.traceFile`), with a one-line summary on `io.err`. Throws for a
 * file that cannot be read or is not a capture at all (CaptureError) and for a malformed key log
 * (KeyLogError); a capture that breaks off is not thrown: its connections are printed and the error
 * is in the result.
 */
export function decodeFile (args: DecodeArgs, io: DecodeIo): CaptureDecodeResult {
  const read = io.readFile ?? ((p: string) => new Uint8Array(readFileSync(p)))
  const buf = read(args.capture)
  const keyLog: KeyLog | undefined = args.keylog === undefined
    ? undefined
    : parseKeyLog(new TextDecoder().decode(read(args.keylog)))
  const result = decodeCapture(buf, keyLog === undefined ? {} : { keyLog })
  const formatter = new TextFormatter({ hex: args.hex === true, utc: args.utc === true })
  const jsonl: string[] = []
  for (const c of result.connections) {
    io.out(`=== connection #${c.id}: ${c.client} -> ${c.server}${c.decrypted ? ' (decrypted)' : ''}`)
    for (const r of c.records) {
      for (const line of formatter.format(r)) io.out(line)
      if (args.traceFile !== undefined) jsonl.push(formatJsonl(r))
    }
  }
  if (args.traceFile !== undefined) writeFileSync(args.traceFile, jsonl.join(''))
  io.err(
    `[decode] ${result.packets} packets, ${result.tcpSegments} TCP segments` +
      (result.udpDatagrams > 0 ? `, ${result.udpDatagrams} UDP datagrams` : '') +
      (result.otherUdpFlows > 0 ? ` (${result.otherUdpFlows} UDP flows not QUIC, skipped)` : '') +
      `, ${result.connections.length} connections` +
      (keyLog !== undefined
        ? `, ${result.connections.filter(c => c.decrypted).length} decrypted with ${args.keylog as string}`
        : ', no key log')
  )
  return result
}
