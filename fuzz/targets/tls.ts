/**
 * Targets: TLS 1.3 records and handshake (both roles), handshake message bodies, X.509 DER and the
 * libp2p certificate checks (src/security/tls). Both machines get fixed randomness and key shares,
 * so the seed exchange computed at load replays byte for byte in every run: mutated records from
 * the real peer reach ServerHello/ClientHello parsing and, untouched, the encrypted flight.
 */
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../src/security/tls/certificate.js'
import { HandshakeType } from '../../src/security/tls/constants.js'
import { TlsHandshake } from '../../src/security/tls/handshake.js'
import type { TlsCredential } from '../../src/security/tls/handshake.js'
import { decodeHandshakeBody } from '../../src/security/tls/messages.js'
import { generateKeyShare } from '../../src/security/tls/primitives.js'
import { TlsRecordLayer } from '../../src/security/tls/record-layer.js'
import { parseCertificate } from '../../src/security/tls/x509.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, concat, counterRandom, pieces, whole } from './util.js'

const NOW = Date.now()
const serverCred = generateLibp2pCredential(generateEd25519(), NOW)
const clientCred = generateLibp2pCredential(generateEd25519(), NOW)

function machine (role: 'client' | 'server', credential: TlsCredential): TlsRecordLayer {
  return new TlsRecordLayer(handshake(role, credential), role)
}

function handshake (role: 'client' | 'server', credential: TlsCredential): TlsHandshake {
  const random = counterRandom()
  const priv = random(32)
  return new TlsHandshake({
    role,
    credential,
    requireClientCertificate: true,
    alpn: ['/yamux/1.0.0', 'libp2p'],
    randomBytes: random,
    keyShare: g => generateKeyShare(g, priv),
    maxHandshakeMessageBytes: 64 * 1024,
    maxCertificateBytes: 16 * 1024,
    verifyPeer: chain => verifyLibp2pCertificate(chain, NOW)
  })
}

let flightCache: { serverHello: Uint8Array, serverHandshake: Uint8Array } | undefined
/** The server's answer to the deterministic ClientHello, per level (plaintext handshake messages). */
function flight (): { serverHello: Uint8Array, serverHandshake: Uint8Array } {
  if (flightCache !== undefined) return flightCache
  const c = handshake('client', clientCred)
  const s = handshake('server', serverCred)
  s.start()
  const hello = c.start().flatMap(a => a.type === 'message' ? [a.data] : [])
  const out = s.receive('initial', concat(...hello))
  const at = (level: string): Uint8Array =>
    concat(...out.flatMap(a => a.type === 'message' && a.level === level ? [a.data] : []))
  flightCache = { serverHello: at('initial'), serverHandshake: at('handshake') }
  return flightCache
}

/** The deterministic exchange: ClientHello, the server's flight, the client's second flight. */
function exchange (): { clientHello: Uint8Array, serverFlight: Uint8Array, clientFlight: Uint8Array } {
  const c = machine('client', clientCred)
  const s = machine('server', serverCred)
  s.start()
  const clientHello = concat(...c.start().send)
  const serverFlight = concat(...s.receive(clientHello).send)
  const clientFlight = concat(...c.receive(serverFlight).send)
  return { clientHello, serverFlight, clientFlight }
}

const drive = (rl: TlsRecordLayer, data: Uint8Array): void => {
  rl.start()
  for (const c of chunks(data)) rl.receive(c)
}

export const targets: FuzzTarget[] = [
  {
    name: 'tls/server',
    seeds: () => { const x = exchange(); return [whole(x.clientHello), whole(x.clientHello, x.clientFlight)] },
    maxLength: 16384,
    run: data => { drive(machine('server', serverCred), data) }
  },
  {
    name: 'tls/client',
    seeds: () => [whole(exchange().serverFlight)],
    maxLength: 16384,
    run: data => { drive(machine('client', clientCred), data) }
  },
  {
    // The client's flights after ServerHello: a client machine gets the real ServerHello (both
    // sides' randomness and key shares are fixed, so it is valid in every run), then the input as
    // the plaintext of the handshake level — EncryptedExtensions, Certificate, CertificateVerify,
    // Finished, as the record layer or QUIC's CRYPTO frames would hand them over after decryption:
    // the fuzzed messages reach the parsers and checks behind the AEAD.
    name: 'tls/client-flight',
    seeds: () => [whole(flight().serverHandshake), pieces(7, flight().serverHandshake)],
    maxLength: 16384,
    run: data => {
      const c = handshake('client', clientCred)
      c.start()
      c.receive('initial', flight().serverHello)
      for (const chunk of chunks(data)) c.receive('handshake', chunk)
    }
  },
  {
    name: 'tls/messages',
    seeds: () => {
      const hello = exchange().clientHello
      return [Uint8Array.of(HandshakeType.ClientHello, ...hello.subarray(9))]
    },
    run: data => { decodeHandshakeBody(data[0] ?? 0, data.subarray(1)) }
  },
  {
    name: 'tls/x509',
    seeds: () => [serverCred.chain[0] as Uint8Array],
    maxLength: 8192,
    run: (data, report) => {
      try { parseCertificate(data) } catch (err) { report(err) }
      verifyLibp2pCertificate([data], NOW)
    }
  }
]
