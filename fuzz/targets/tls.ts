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
import { chunks, concat, counterRandom, whole } from './util.js'

const NOW = Date.now()
const serverCred = generateLibp2pCredential(generateEd25519(), NOW)
const clientCred = generateLibp2pCredential(generateEd25519(), NOW)

function machine (role: 'client' | 'server', credential: TlsCredential): TlsRecordLayer {
  const random = counterRandom()
  const priv = random(32)
  const hs = new TlsHandshake({
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
  return new TlsRecordLayer(hs, role)
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
