/**
 * Target: a whole QUIC server connection (src/transport/quic/connection.ts) after a valid client
 * Initial. The machine gets a real ClientHello first (from a client machine with fixed randomness),
 * then the input as more client Initial packets: the input is split into packets of frames
 * (2-byte big-endian length, then that many bytes of plaintext frames), each sealed with the
 * client's Initial keys (RFC 9001 §5.2, derived from the DCID, which an attacker knows) and padded
 * to 1200 bytes, so the fuzzed frames — not the AEAD — are what the machine parses: CRYPTO after and
 * over the ClientHello, ACKs of packets never sent, CONNECTION_CLOSE, frames forbidden at the Initial
 * level (RFC 9000 §12.4). Oracle: besides QuicError only, the server never sends more than three
 * times what it received before the client's address is validated (RFC 9000 §8.1).
 */
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../src/security/tls/certificate.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { QuicConnection } from '../../src/transport/quic/connection.js'
import { LongPacketType, MIN_INITIAL_DATAGRAM_SIZE } from '../../src/transport/quic/constants.js'
import { encodeLongHeader, parseHeader } from '../../src/transport/quic/header.js'
import { AEAD_TAG_LENGTH, initialKeys, sealPacket } from '../../src/transport/quic/protection.js'
import type { FuzzTarget } from '../engine.js'
import { quicVarint as v } from '../mutate.js'
import { concat, counterRandom, utf8 } from './util.js'

const NOW = 1_000_000
const serverCred = generateLibp2pCredential(generateEd25519(), Date.now())
const clientCred = generateLibp2pCredential(generateEd25519(), Date.now())

/** The client's first datagram (its Initial with the ClientHello), made once. */
const client = new QuicConnection({
  role: 'client',
  credential: clientCred,
  verifyPeer: chain => verifyLibp2pCertificate(chain),
  alpn: ['libp2p'],
  localCid: Uint8Array.of(0xc1, 1, 2, 3, 4, 5, 6, 7),
  remoteCid: Uint8Array.of(0xd1, 1, 2, 3, 4, 5, 6, 7),
  now: NOW,
  randomBytes: counterRandom()
})
const FIRST = client.pollDatagrams(NOW)[0] as Uint8Array
const first = parseHeader(FIRST, 0, 8)
if (first.form !== 'long') throw new Error('quic-connection target: the first datagram has no long header')
const DCID = first.dcid.slice()
const SCID = first.scid.slice()
const CLIENT_KEYS = initialKeys(DCID, 'client').write

/** One client Initial carrying `frames` (padded with PADDING frames to fill a 1200-byte datagram). */
function initialPacket (pn: number, frames: Uint8Array): Uint8Array {
  const overhead = 1 + 4 + 1 + DCID.length + 1 + SCID.length + 1 + 2 + 2 + AEAD_TAG_LENGTH
  const pad = Math.max(0, MIN_INITIAL_DATAGRAM_SIZE - overhead - frames.length)
  const payload = pad === 0 ? frames : concat(frames, new Uint8Array(pad))
  const fields = { type: LongPacketType.Initial as const, dcid: DCID, scid: SCID }
  const h = encodeLongHeader(fields, 2, pn & 0xffff, payload.length + AEAD_TAG_LENGTH)
  return sealPacket(CLIENT_KEYS, h.bytes, h.pnOffset, 2, pn, payload)
}

/** Split the input into the frames of successive packets (2-byte length each). */
function packets (data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let o = 0
  while (o < data.length && out.length < 32) {
    const n = o + 2 <= data.length ? ((data[o] as number) << 8) | (data[o + 1] as number) : 0
    const start = Math.min(o + 2, data.length)
    const end = Math.min(start + n, data.length)
    out.push(data.subarray(start, end))
    o = end
  }
  return out
}

const framed = (...frames: Uint8Array[]): Uint8Array => {
  const body = concat(...frames)
  return concat(Uint8Array.of(body.length >> 8, body.length & 0xff), body)
}

export const targets: FuzzTarget[] = [
  {
    name: 'quic-connection/server',
    seeds: () => [
      framed(Uint8Array.of(0x01)), // PING
      framed(Uint8Array.of(0x02), v(0), v(0), v(0), v(0)), // ACK of the server's Initial 0
      concat(framed(Uint8Array.of(0x02), v(5), v(0), v(0), v(5)), framed(Uint8Array.of(0x01))), // ACK of unsent packets
      framed(Uint8Array.of(0x06), v(0), v(16), new Uint8Array(16)), // CRYPTO over the ClientHello
      framed(Uint8Array.of(0x06), v(4000), v(8), utf8('garbage!')), // CRYPTO beyond it
      framed(Uint8Array.of(0x1c), v(0x0a), v(0x06), v(3), utf8('bye')), // CONNECTION_CLOSE
      framed(Uint8Array.of(0x0f), v(0), v(0), v(2), utf8('hi')), // STREAM: forbidden at Initial
      framed(Uint8Array.of(0x1e)) // HANDSHAKE_DONE from a client
    ],
    maxLength: 8192,
    run: data => {
      const server = new QuicConnection({
        role: 'server',
        credential: serverCred,
        verifyPeer: chain => verifyLibp2pCertificate(chain),
        alpn: ['libp2p'],
        localCid: Uint8Array.of(0x53, 1, 2, 3, 4, 5, 6, 7),
        remoteCid: SCID,
        originalDcid: DCID,
        now: NOW,
        randomBytes: counterRandom()
      })
      let now = NOW
      let received = FIRST.length
      let sent = 0
      const drain = (): void => {
        for (const d of server.pollDatagrams(now)) sent += d.length
        server.pollEvents()
        if (sent > 3 * received) {
          throw new Error(`anti-amplification: sent ${sent} bytes after receiving ${received} (RFC 9000 §8.1: <= 3x)`)
        }
      }
      server.receiveDatagram(FIRST, now)
      drain()
      let pn = 1
      for (const frames of packets(data)) {
        const d = initialPacket(pn++, frames)
        received += d.length
        now += 1
        server.receiveDatagram(d, now)
        drain()
      }
      // the timers run too (loss detection, PTO, idle): still within the amplification limit
      for (let i = 0; i < 4; i++) {
        const t = server.nextTimeout()
        if (t === Infinity) break
        now = Math.max(now, t)
        server.onTimeout(now)
        drain()
      }
    }
  }
]
