/**
 * `switchyard decode` of UDP/QUIC captures:
 *  - real dumpcap captures on loopback (test/capture/fixtures): `switchyard ping` + `switchyard
 *    identify` against a switchyard, a go-libp2p (quic-go) and a rust-libp2p (quinn) listener,
 *    with the key log the CLI wrote (--keylog), decoded with and without it;
 *  - a live QUIC exchange between two switches through a recording UDP proxy, with key updates;
 *  - bad input: every truncation and garbage datagrams give error or `undecrypted` events, never a
 *    throw.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeCapture, decodeFile } from '../../src/capture/decode-capture.js'
import { decodeQuicConnection } from '../../src/capture/decode-quic.js'
import type { QuicConnectionCapture } from '../../src/capture/decode-quic.js'
import { parseUdpDatagram } from '../../src/capture/packet.js'
import { readCapture } from '../../src/capture/pcap.js'
import { newStandardSwitch } from '../../src/index.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { TextFormatter } from '../../src/trace/format-text.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import type { KeyLog } from '../../src/trace/keylog.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { quic } from '../../src/transport/quic/transport.js'
import { ipBytes, writePcapng } from './synth.js'
import { UdpRecorder } from './udp-recorder.js'

const FIXTURES = join(fileURLToPath(import.meta.url), '..', 'fixtures')
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)))
const keys = (name: string): KeyLog => parseKeyLog(readFileSync(join(FIXTURES, name), 'utf8'))

type Rec<L extends TraceRecord['layer'], K extends string> = Extract<TraceRecord, { kind: K }> & { layer: L }
function pick<L extends TraceRecord['layer'], K extends string> (rs: TraceRecord[], layer: L, kind: K): Array<Rec<L, K>> {
  return rs.filter((r): r is Rec<L, K> => r.layer === layer && r.kind === kind)
}

const SERVER_FLIGHT = [
  'S ServerHello initial',
  'S EncryptedExtensions handshake',
  'S CertificateRequest handshake',
  'S Certificate handshake',
  'S CertificateVerify handshake',
  'S Finished handshake'
]
const TLS_MESSAGES = [
  'C ClientHello initial', ...SERVER_FLIGHT,
  'C Certificate handshake', 'C CertificateVerify handshake', 'C Finished handshake'
]
const tlsMessages = (rs: TraceRecord[]): string[] =>
  pick(rs, 'tls', 'handshake').map(r => `${r.dir === 'out' ? 'C' : 'S'} ${r.message} ${r.level}`)

/** What every fully decrypted ping + identify connection shows. */
function expectDecryptedConnection (rs: TraceRecord[], serverAgent: RegExp): void {
  const packets = pick(rs, 'quic', 'packet')
  expect(pick(rs, 'quic', 'undecrypted')).toEqual([])
  expect(new Set(packets.map(p => p.packetType))).toEqual(new Set(['Initial', 'Handshake', '1-RTT']))
  // the client's first Initial: padded to 1200 bytes (RFC 9000 §14.1), v1, its long header shown
  const first = packets[0]
  expect(first).toMatchObject({ dir: 'out', packetType: 'Initial', pn: 0, length: 1200 })
  expect(first?.longHeader).toMatchObject({ version: 1, token: 0 })
  expect(first?.frames.some(f => /^CRYPTO 0\+\d+$/.test(f))).toBe(true)
  expect(packets.some(p => p.dir === 'in' && p.frames.includes('HANDSHAKE_DONE'))).toBe(true)
  expect(packets.some(p => p.frames.some(f => /^ACK \d/.test(f)))).toBe(true)
  expect(packets.some(p => p.frames.some(f => f.startsWith('CONNECTION_CLOSE')))).toBe(true)
  expect(tlsMessages(rs)).toEqual(TLS_MESSAGES)
  expect(pick(rs, 'tls', 'complete')[0]).toMatchObject({ role: 'client', alpn: 'libp2p' })
  // streams: the client's ping stream and identify, each negotiated with multistream-select
  const protocols = pick(rs, 'stream', 'protocol')
  expect(protocols.map(p => p.protocol)).toEqual(expect.arrayContaining(['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0']))
  const ping = protocols.find(p => p.protocol === '/ipfs/ping/1.0.0' && p.stream % 4 === 0)
  expect(ping).toBeDefined()
  const pingData = pick(rs, 'stream', 'data').filter(d => d.stream === ping?.stream)
  // two 32-byte pings each way, after the multistream-select exchange
  expect(pingData.filter(d => d.length === 32 && d.dir === 'out')).toHaveLength(1)
  const identify = pick(rs, 'stream', 'message').find(m => m.identify !== undefined && m.dir === 'in')
  expect(identify?.identify?.agentVersion).toMatch(serverAgent)
  expect(pick(rs, 'quic', 'error')).toEqual([])
  expect(pick(rs, 'stream', 'error')).toEqual([])
}

describe('decode: QUIC captures recorded with dumpcap', () => {
  it('switchyard ↔ switchyard with the key log: packets, frames, TLS messages, streams', () => {
    const result = decodeCapture(fixture('quic-sw-sw.pcapng'), { keyLog: keys('quic-sw-sw.keys') })
    expect(result).toMatchObject({ tcpSegments: 0, udpDatagrams: 28, otherUdpFlows: 0, error: undefined })
    expect(result.connections).toHaveLength(2) // ping, then identify: two dials
    for (const c of result.connections) {
      expect(c.decrypted).toBe(true)
      expect(c.client).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1$/)
      expect(c.server).toBe('/ip4/127.0.0.1/udp/47123/quic-v1')
    }
    expectDecryptedConnection(result.connections[0]?.records ?? [], /^switchyard\//)
    // the text view, as --trace prints a live connection
    const f = new TextFormatter({ utc: true })
    const lines = (result.connections[0]?.records ?? []).flatMap(r => f.format(r))
    expect(lines[0]).toMatch(/#1 udp open \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1 -> \/ip4\/127\.0\.0\.1\/udp\/47123/)
    expect(lines).toContainEqual(expect.stringMatching(
      / {2}quic -> Initial #0 \(1200 B\) \[v1, dcid [0-9a-f]{16}, scid [0-9a-f]{16}\]: CRYPTO 0\+\d+, PADDING \d+$/
    ))
    expect(lines).toContainEqual(expect.stringMatching(/ {4}tls <- Certificate \(\d+ B, handshake\) 1 certificate; libp2p/))
    expect(lines).toContainEqual(expect.stringMatching(/quic <- 1-RTT #\d+ \(\d+ B\): .*STREAM 0 @0\+\d+ FIN/))
    expect(lines).toContainEqual(expect.stringMatching(/\[4\] protocol \/ipfs\/ping\/1\.0\.0$/))
  })

  it('without a key log: long headers, the Initial packets, and which packets stayed encrypted', () => {
    const result = decodeCapture(fixture('quic-sw-sw.pcapng'))
    for (const c of result.connections) {
      const rs = c.records
      expect(c.decrypted).toBe(false)
      // Initial keys come from the client's first DCID (RFC 9001 §5.2): ClientHello and ServerHello show
      expect(tlsMessages(rs)).toEqual(['C ClientHello initial', 'S ServerHello initial'])
      expect(new Set(pick(rs, 'quic', 'packet').map(p => p.packetType))).toEqual(new Set(['Initial']))
      const closed = pick(rs, 'quic', 'undecrypted')
      expect(new Set(closed.map(p => p.packetType))).toEqual(new Set(['Handshake', '1-RTT']))
      expect(closed.every(p => /no key log/.test(p.reason))).toBe(true)
      // long headers keep their version and connection ids; the protected bytes are kept for --trace=hex
      const hs = closed.find(p => p.packetType === 'Handshake')
      expect(hs?.longHeader).toMatchObject({ version: 1 })
      expect(hs?.longHeader?.dcid).toMatch(/^[0-9a-f]{16}$/)
      expect(hs?.bytes?.length).toBe(hs?.length)
      expect(pick(rs, 'quic', 'note').at(-1)?.message).toMatch(/^\d+ packets \(\d+ B\) not decrypted: no key log/)
      expect(pick(rs, 'stream', 'data')).toEqual([])
    }
    const f = new TextFormatter()
    const lines = (result.connections[0]?.records ?? []).flatMap(r => f.format(r))
    expect(lines).toContainEqual(expect.stringMatching(
      /quic <- Handshake \(\d+ B\) \[v1, dcid [0-9a-f]+, scid [0-9a-f]+\]: not decrypted \(no Handshake keys: no key log/
    ))
  })

  it('a key log of other connections: the hellos, then "no TLS secrets for this connection"', () => {
    const result = decodeCapture(fixture('quic-sw-sw.pcapng'), { keyLog: keys('quic-sw-go.keys') })
    const rs = result.connections[0]?.records ?? []
    expect(pick(rs, 'tls', 'note')[0]?.message).toMatch(/no TLS secrets for this connection/)
    expect(pick(rs, 'quic', 'undecrypted').every(p => /no TLS secrets|no .* keys/.test(p.reason))).toBe(true)
  })

  it('switchyard → go-libp2p (quic-go): 4-byte connection ids, 0.5-RTT NEW_CONNECTION_ID, NEW_TOKEN', () => {
    const result = decodeCapture(fixture('quic-sw-go.pcapng'), { keyLog: keys('quic-sw-go.keys') })
    expect(result.connections).toHaveLength(2)
    const rs = result.connections[0]?.records ?? []
    expectDecryptedConnection(rs, /go-libp2p/)
    const packets = pick(rs, 'quic', 'packet')
    const serverInitial = packets.find(p => p.dir === 'in' && p.packetType === 'Initial')
    expect(serverInitial?.longHeader?.scid).toMatch(/^[0-9a-f]{8}$/) // quic-go chooses 4-byte ids
    // the server's first datagram coalesces Initial, Handshake and a 1-RTT packet (RFC 9000 §12.2)
    const t = serverInitial?.time
    expect(packets.filter(p => p.dir === 'in' && p.time === t).map(p => p.packetType))
      .toEqual(['Initial', 'Handshake', '1-RTT'])
    expect(packets.some(p => p.frames.includes('NEW_TOKEN'))).toBe(true)
  })

  it('switchyard → rust-libp2p (quinn): path MTU probes, the server\'s own ping stream', () => {
    const result = decodeCapture(fixture('quic-sw-rust.pcapng'), { keyLog: keys('quic-sw-rust.keys') })
    expect(result.connections).toHaveLength(2)
    const rs = result.connections[0]?.records ?? []
    expectDecryptedConnection(rs, /rust-libp2p/)
    const packets = pick(rs, 'quic', 'packet')
    // DPLPMTUD probes (RFC 8899): PING + PADDING in ever larger 1-RTT packets
    const probes = packets.filter(p => p.dir === 'in' && p.frames[0] === 'PING' && p.length > 1200)
    expect(probes.length).toBeGreaterThan(1)
    // quinn's side opens stream 5 for its own ping (a server-initiated bidirectional stream)
    expect(pick(rs, 'stream', 'protocol').some(p => p.stream % 4 === 1 && p.protocol === '/ipfs/ping/1.0.0')).toBe(true)
  })

  it('decode command: one summary line, every connection printed', () => {
    const out: string[] = []
    const err: string[] = []
    decodeFile(
      { capture: join(FIXTURES, 'quic-sw-sw.pcapng'), keylog: join(FIXTURES, 'quic-sw-sw.keys'), utc: true },
      { out: l => out.push(l), err: l => err.push(l) }
    )
    expect(err).toEqual([
      expect.stringMatching(/^\[decode\] 28 packets, 0 TCP segments, 28 UDP datagrams, 2 connections, 2 decrypted with /)
    ])
    expect(out.filter(l => l.startsWith('=== connection'))).toHaveLength(2)
  })
})

describe('decode: a live QUIC exchange through a recording UDP proxy', () => {
  it('follows key updates (RFC 9001 §6) and reads every stream message', async () => {
    const keyLines: string[] = []
    const s1 = newStandardSwitch({ log: () => {}, transports: [quic()], listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'] })
    const s2 = newStandardSwitch({
      log: () => {},
      // a key update every 3 packets of ours: several phases in a short exchange
      transports: [quic({ keyUpdateIntervalPackets: 3 })],
      listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'],
      keyLog: l => keyLines.push(l)
    })
    s1.mount(streamProtoProtocol)
    await s1.start()
    await s2.start()
    const port = Number(s1.peerInfo.addrs[0]?.toString().split('/')[4])
    const rec = await UdpRecorder.start({ host: '127.0.0.1', port })
    try {
      const stream = await s2.dial(s1.peerInfo.peerId, [`/ip4/127.0.0.1/udp/${rec.port}/quic-v1`], '/test/stream-proto/1.0.0')
      expect(await streamProtoClient(stream)).toHaveLength(11)
    } finally {
      await s2.stop()
      await s1.stop()
      await rec.stop()
    }
    const frames = rec.frames().map(frame => ({ iface: 0, frame }))
    const pcapng = writePcapng([{ interfaces: [{ linkType: 101 }], packets: frames }])
    const result = decodeCapture(pcapng, { keyLog: parseKeyLog(keyLines.join('\n')) })
    expect(result.connections).toHaveLength(1)
    const rs = result.connections[0]?.records ?? []
    expect(pick(rs, 'quic', 'undecrypted')).toEqual([])
    expect(pick(rs, 'quic', 'note').some(n => /key update: the client moved to key phase 1/.test(n.message))).toBe(true)
    expect(tlsMessages(rs)).toEqual(TLS_MESSAGES)
    const id = pick(rs, 'stream', 'protocol').find(p => p.protocol === '/test/stream-proto/1.0.0')?.stream
    const messages = pick(rs, 'stream', 'message').filter(m => m.stream === id).map(m => new TextDecoder().decode(m.bytes))
    expect(messages).toEqual(['please send data', ...Array.from({ length: 11 }, (_, i) => `Part ${i}`)])
  })
})

describe('decode: bad QUIC input never throws', () => {
  const packets = [...readCapture(fixture('quic-sw-sw.pcapng'))].map(p => parseUdpDatagram(p))
  const keyLog = keys('quic-sw-sw.keys')
  const client = { ip: ipBytes('127.0.0.1'), port: 1 }
  const server = { ip: ipBytes('127.0.0.1'), port: 2 }
  /** The first connection's datagrams, the one at `index` replaced (and the last one when `upTo`). */
  function connection (index: number, payload: Uint8Array, upTo = false): QuicConnectionCapture {
    const datagrams = packets.slice(0, upTo ? index + 1 : 15).map((d, i) => ({
      dir: d?.dst.port === 47123 ? 'out' as const : 'in' as const,
      time: d?.time ?? 0,
      payload: i === index ? payload : d?.payload ?? new Uint8Array(0),
      missing: 0
    }))
    return { client, server, datagrams, sawStart: true }
  }
  const typed = (rs: TraceRecord[]): boolean =>
    rs.every(r => r.kind !== 'error' || (r.code !== undefined && r.code.startsWith('ERR_')))

  it('every truncation of every datagram of a connection: typed errors or "not decrypted" lines', () => {
    for (let i = 0; i < 15; i++) {
      const whole = packets[i]?.payload as Uint8Array
      for (let n = 0; n < whole.length; n++) {
        const d = decodeQuicConnection(connection(i, whole.subarray(0, n), true), keyLog)
        expect(typed(d.records)).toBe(true)
        // a cut packet is never shown as opened: it fails authentication or parsing
        expect(pick(d.records, 'quic', 'packet').every(p => p.time !== packets[i]?.time || p.length <= n)).toBe(true)
      }
    }
  })

  it('garbage datagrams anywhere in a connection', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 14 }),
      fc.uint8Array({ minLength: 0, maxLength: 1500 }),
      fc.boolean(),
      (i, garbage, longHeader) => {
        const payload = garbage.slice()
        if (longHeader && payload.length > 5) {
          payload[0] = 0xc0 | ((payload[0] as number) & 0x3f)
          payload.set([0, 0, 0, 1], 1) // version 1: the v1 long header parser runs on the garbage
        }
        const d = decodeQuicConnection(connection(i, payload), keyLog)
        expect(typed(d.records)).toBe(true)
      }
    ), { numRuns: 300 })
  })

  it('a flipped bit in a protected packet: "authentication failed", the rest of the connection decoded', () => {
    const d = packets[5]?.payload.slice() as Uint8Array
    d[d.length - 3] = (d[d.length - 3] as number) ^ 0x01
    const decoded = decodeQuicConnection(connection(5, d), keyLog)
    const closed = pick(decoded.records, 'quic', 'undecrypted')
    expect(closed).toHaveLength(1)
    expect(closed[0]?.reason).toMatch(/authentication failed/)
    expect(pick(decoded.records, 'quic', 'packet').length).toBeGreaterThan(10)
  })
})
