/**
 * See the wire over QUIC: two switches on `quic()` over UDP loopback with the tracer and a key log,
 * as `--trace` / `--keylog` run them — packets (type, number, frames) between UDP and the libp2p
 * layers, the TLS messages from the CRYPTO frames, each stream's multistream-select and messages,
 * and the NSS key log lines a QUIC decoder needs.
 */
import { describe, expect, it } from 'vitest'
import { TextFormatter } from '../../../src/trace/format-text.js'
import type { TraceRecord } from '../../../src/trace/observer.js'
import { quic } from '../../../src/transport/quic/transport.js'
import { STREAM_PROTO as CODEC, tracedTutorialExchange } from '../../trace/helpers.js'
import { QuicError } from '../../../src/errors.js'
import { QuicReader } from '../../../src/transport/quic/buffer.js'
import { decodeFrames } from '../../../src/transport/quic/frame.js'
import { parseHeader } from '../../../src/transport/quic/header.js'
import type { LongHeader } from '../../../src/transport/quic/header.js'
import { readPacketNumber } from '../../../src/transport/quic/packet-number.js'
import { describeFrames } from '../../../src/transport/quic/trace.js'

/** The tutorial exchange over QUIC, traced, with the dialer's key log. */
export async function tracedExchange (): Promise<{ client: TraceRecord[], server: TraceRecord[], keyLog: string[] }> {
  return await tracedTutorialExchange({ transports: [quic()], listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'] }, true)
}

describe('QUIC: --trace and --keylog (library)', () => {
  it(
    'shows packets and frames, the TLS handshake inside CRYPTO, each stream\'s protocol and messages; logs the four NSS secrets',
    async () => {
      const { client, server, keyLog } = await tracedExchange()
      for (const [records, role] of [[client, 'client'], [server, 'server']] as const) {
        const packets = records.flatMap(r => r.layer === 'quic' && r.kind === 'packet' ? [r] : [])
        // the first packet each way is an Initial carrying CRYPTO (ClientHello / ServerHello)
        const firstOut = packets.find(p => p.dir === 'out')
        const firstIn = packets.find(p => p.dir === 'in')
        expect(firstOut?.packetType).toBe('Initial')
        expect(firstIn?.packetType).toBe('Initial')
        expect(firstOut?.frames.some(f => f.startsWith('CRYPTO 0+'))).toBe(true)
        // all three packet types, packet numbers counting up per space, ACKs with ranges
        expect(new Set(packets.map(p => p.packetType))).toEqual(new Set(['Initial', 'Handshake', '1-RTT']))
        const outPns = packets.filter(p => p.dir === 'out' && p.packetType === '1-RTT').map(p => p.pn)
        expect(outPns).toEqual([...outPns].sort((a, b) => a - b))
        expect(packets.some(p => p.frames.some(f => /^ACK \d+(-\d+)?/.test(f)))).toBe(true)
        expect(packets.some(p => p.frames.some(f => /^STREAM 0 @0\+\d+/.test(f)))).toBe(true)
        // the server sends HANDSHAKE_DONE (RFC 9001 §4.1.2)
        expect(packets.some(p => p.frames.includes('HANDSHAKE_DONE') && p.dir === (role === 'server' ? 'out' : 'in')))
          .toBe(true)
        // TLS messages from the CRYPTO frames, in order, with the levels RFC 9001 §4 puts them at
        const tls = records.flatMap(r =>
          r.layer === 'tls' && r.kind === 'handshake'
            ? [
              `${
                r.dir === 'out' ? (role === 'client' ? 'C' : 'S') : (role === 'client' ? 'S' : 'C')
              } ${r.message} ${r.level}`
              ]
            : []
        )
        expect(tls).toEqual([
          'C ClientHello initial',
          'S ServerHello initial',
          'S EncryptedExtensions handshake',
          'S CertificateRequest handshake',
          'S Certificate handshake',
          'S CertificateVerify handshake',
          'S Finished handshake',
          'C Certificate handshake',
          'C CertificateVerify handshake',
          'C Finished handshake'
        ])
        expect(records.find(r => r.layer === 'tls' && r.kind === 'complete')).toMatchObject({ role, alpn: 'libp2p' })
        // the stream: multistream-select read from the STREAM data, then the tutorial's messages
        const id = records.find(r => r.layer === 'stream' && r.kind === 'protocol' && r.protocol === CODEC)?.stream
        expect(id !== undefined && id % 4 === 0).toBe(true) // a client-initiated bidirectional stream (RFC 9000 §2.1)
        const messages = records.flatMap(r =>
          r.layer === 'stream' && r.kind === 'message' && r.stream === id ? [new TextDecoder().decode(r.bytes)] : []
        )
        expect(messages).toEqual(['please send data', ...Array.from({ length: 11 }, (_, i) => `Part ${i}`)])
      }
      // the text view: one line per packet between the UDP open and the libp2p layers
      const f = new TextFormatter()
      const lines = client.flatMap(r => f.format(r))
      expect(lines[0]).toMatch(
        /#1 udp open \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1 -> \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1 \(outbound\)/
      )
      expect(lines.some(l => / {2}quic -> Initial #0 \(\d+ B\): CRYPTO 0\+\d+, PADDING \d+$/.test(l))).toBe(true)
      expect(lines.some(l => / {4}tls <- ServerHello \(\d+ B, initial\)/.test(l))).toBe(true)
      expect(lines.some(l => /\[\d+\] -> "please send data"/.test(l))).toBe(true)
      // the key log: the labels tshark uses to decrypt QUIC, one client random
      const labels = keyLog.map(l => l.split(' ')[0])
      expect(labels).toEqual([
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
        'SERVER_HANDSHAKE_TRAFFIC_SECRET',
        'CLIENT_TRAFFIC_SECRET_0',
        'SERVER_TRAFFIC_SECRET_0'
      ])
      expect(new Set(keyLog.map(l => l.split(' ')[1])).size).toBe(1)
      for (const l of keyLog) expect(l).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64}$/)
    },
    30_000
  )

  it('--trace=hex: each packet without protection (header unmasked, plaintext frames), dumped under its line', async () => {
    const { client } = await tracedExchange()
    const packets = client.flatMap(r => r.layer === 'quic' && r.kind === 'packet' ? [r] : [])
    expect(packets.length).toBeGreaterThan(5)
    for (const p of packets) {
      const b = p.bytes as Uint8Array
      // the sealed packet is the same bytes plus the 16-byte AEAD tag (RFC 9001 §5.3)
      expect(b.length).toBe(p.length - 16)
      const long = ((b[0] as number) & 0x80) !== 0
      expect(long).toBe(p.packetType !== '1-RTT')
      // the frames the line names are read back from the dumped bytes
      const pnLength = ((b[0] as number) & 0x03) + 1
      let at: number
      if (long) {
        expect([...b.subarray(1, 5)]).toEqual([0, 0, 0, 1]) // version 1
        // the Length field counts the tag: parse with room for it
        const h = parseHeader(Uint8Array.from([...b, ...new Uint8Array(16)]), 0, 0) as LongHeader
        at = h.pnOffset
      } else at = 1 + 8 // switchyard's connection ids are 8 bytes
      expect(readPacketNumber(b, at, pnLength) % 2 ** (8 * pnLength)).toBe(p.pn % 2 ** (8 * pnLength))
      const truncated = (): QuicError => new QuicError('ERR_QUIC_FRAME_ENCODING', 'truncated')
      const frames = decodeFrames(new QuicReader(b.subarray(at + pnLength), truncated))
      expect(describeFrames(frames)).toEqual(p.frames)
    }
    // the client's first Initial: padded to 1200 on the wire, so 1184 bytes without the tag
    expect(packets[0]?.bytes?.length).toBe(1184)
    const f = new TextFormatter({ hex: true })
    const lines = client.flatMap(r => f.format(r))
    const i = lines.findIndex(l => / {2}quic -> Initial #0 \(1200 B\)/.test(l))
    expect(lines[i + 1]).toMatch(/^ +0000 {2}c[0-3] 00 00 00 01 08 /) // long header, v1, DCID length 8
    // DUMP_LIMIT (1024) bytes in rows of 16, then the rest counted
    expect(lines.slice(i + 1, i + 65).every(l => /^ +[0-9a-f]{4} {2}/.test(l))).toBe(true)
    expect(lines[i + 65]).toMatch(/^ +… 160 more bytes$/)
  }, 30_000)
})
