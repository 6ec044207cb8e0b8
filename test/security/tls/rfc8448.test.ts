/**
 * RFC 8448 §3 "Simple 1-RTT Handshake" and §5 "HelloRetryRequest" replayed byte for byte through the
 * record layer and the handshake machine, with the trace's randomness and ephemeral keys injected.
 * (§5's server side is not replayed: its HelloRetryRequest cookie is NSS's own encrypted state.)
 */
import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateKeyShare } from '../../../src/security/tls/primitives.js'
import { TlsHandshake } from '../../../src/security/tls/handshake.js'
import type { TlsHandshakeConfig } from '../../../src/security/tls/handshake.js'
import { TlsRecordLayer } from '../../../src/security/tls/record-layer.js'
import { AlertDescription, CipherSuite, NamedGroup } from '../../../src/security/tls/constants.js'
import {
  deriveSecret,
  finishedVerifyData,
  hkdfExtract,
  KeySchedule,
  SUITES,
  trafficKeys
} from '../../../src/security/tls/key-schedule.js'
import { hex, rfc8448, rfc8448Hrr } from './vectors.js'

const SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]

/** The ClientHello of §3 lists more than we implement; the extra ones are passed through raw. */
const clientConfig: TlsHandshakeConfig<string> = {
  role: 'client',
  cipherSuites: [0x1301, 0x1303, 0x1302],
  groups: [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104],
  keyShareGroups: [NamedGroup.x25519],
  signatureSchemes: [
    0x0403,
    0x0503,
    0x0603,
    0x0203,
    0x0804,
    0x0805,
    0x0806,
    0x0401,
    0x0501,
    0x0601,
    0x0201,
    0x0402,
    0x0502,
    0x0602,
    0x0202
  ],
  extensions: [
    { type: 0, data: hex('0009000006736572766572') }, // server_name "server"
    { type: 0xff01, data: hex('00') }, // renegotiation_info
    { type: 35, data: new Uint8Array(0) }, // session_ticket
    { type: 45, data: hex('0101') }, // psk_key_exchange_modes
    { type: 28, data: hex('4001') } // record_size_limit
  ],
  extensionOrder: [0, 0xff01, 10, 35, 51, 43, 13, 45, 28],
  randomBytes: () => rfc8448.clientRandom,
  keyShare: g => generateKeyShare(g, rfc8448.clientPrivateKey),
  verifyPeer: chain => {
    const cert = new crypto.X509Certificate(chain[0] as Uint8Array)
    return { publicKey: cert.publicKey, info: cert.subject }
  }
}

describe('RFC 8448 §3 key schedule', () => {
  it('derives every published secret, key and iv', () => {
    const ks = new KeySchedule(SUITE)
    expect(ks.earlySecret).toEqual(rfc8448.secrets.early)
    const helloHash = new Uint8Array(
      crypto.createHash('sha256').update(rfc8448.clientHello).update(rfc8448.serverHello).digest()
    )
    const hs = ks.handshake(rfc8448.secrets.shared, helloHash)
    expect(ks.handshakeSecret).toEqual(rfc8448.secrets.handshake)
    expect(hs.client).toEqual(rfc8448.secrets.clientHandshakeTraffic)
    expect(hs.server).toEqual(rfc8448.secrets.serverHandshakeTraffic)
    expect(trafficKeys(SUITE, hs.server)).toEqual({
      key: rfc8448.secrets.serverHandshakeKey,
      iv: rfc8448.secrets.serverHandshakeIv
    })
    expect(trafficKeys(SUITE, hs.client)).toEqual({
      key: rfc8448.secrets.clientHandshakeKey,
      iv: rfc8448.secrets.clientHandshakeIv
    })
    const th = crypto.createHash('sha256')
    for (
      const m of [
        rfc8448.clientHello,
        rfc8448.serverHello,
        rfc8448.encryptedExtensions,
        rfc8448.certificate,
        rfc8448.certificateVerify
      ]
    ) th.update(m)
    expect(finishedVerifyData(SUITE, hs.server, new Uint8Array(th.copy().digest()))).toEqual(
      rfc8448.serverFinished.subarray(4)
    )
    th.update(rfc8448.serverFinished)
    const serverFinishedHash = new Uint8Array(th.copy().digest())
    const app = ks.application(serverFinishedHash)
    expect(ks.masterSecret).toEqual(rfc8448.secrets.master)
    expect(app.client).toEqual(rfc8448.secrets.clientApplicationTraffic)
    expect(app.server).toEqual(rfc8448.secrets.serverApplicationTraffic)
    expect(trafficKeys(SUITE, app.server)).toEqual({
      key: rfc8448.secrets.serverApplicationKey,
      iv: rfc8448.secrets.serverApplicationIv
    })
    expect(trafficKeys(SUITE, app.client)).toEqual({
      key: rfc8448.secrets.clientApplicationKey,
      iv: rfc8448.secrets.clientApplicationIv
    })
    expect(finishedVerifyData(SUITE, hs.client, serverFinishedHash)).toEqual(rfc8448.clientFinished.subarray(4))
    // Derive-Secret / HKDF-Extract are the building blocks above; pin one direct use.
    expect(
      deriveSecret(
        'sha256',
        hkdfExtract('sha256', new Uint8Array(32), new Uint8Array(32)),
        'derived',
        new Uint8Array(crypto.createHash('sha256').digest())
      )
    )
      .toEqual(hex('6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba'))
  })
})

describe('RFC 8448 §3 replayed through the client', () => {
  it('sends and accepts every record of the trace byte for byte', () => {
    const secrets: Array<[string, Uint8Array, Uint8Array]> = []
    const hs = new TlsHandshake(clientConfig)
    const rl = new TlsRecordLayer(hs, 'client', { onSecrets: (level, c, s) => secrets.push([level, c, s]) })

    const first = rl.start()
    expect(first.send).toEqual([rfc8448.records.clientHello])

    const afterSh = rl.receive(rfc8448.records.serverHello)
    expect(afterSh.send).toEqual([])
    expect(secrets[0]).toEqual([
      'handshake',
      rfc8448.secrets.clientHandshakeTraffic,
      rfc8448.secrets.serverHandshakeTraffic
    ])

    const afterFlight = rl.receive(rfc8448.records.serverFlight)
    expect(afterFlight.send).toEqual([rfc8448.records.clientFinished])
    expect(afterFlight.complete?.cipherSuite).toBe(CipherSuite.TLS_AES_128_GCM_SHA256)
    expect(afterFlight.complete?.peer?.info).toBe('CN=rsa')
    expect(secrets[1]).toEqual([
      'application',
      rfc8448.secrets.clientApplicationTraffic,
      rfc8448.secrets.serverApplicationTraffic
    ])

    // NewSessionTicket: accepted and ignored.
    expect(rl.receive(rfc8448.records.newSessionTicket)).toEqual({ send: [], data: [] })
    expect(rl.encrypt([rfc8448.appData])).toEqual([rfc8448.records.clientData])
    expect(rl.receive(rfc8448.records.serverData).data).toEqual([rfc8448.appData])
    expect(rl.alertRecord(AlertDescription.close_notify)).toEqual(rfc8448.records.clientAlert)
    expect(rl.receive(rfc8448.records.serverAlert).closeNotify).toBe(true)
  })

  it('gives the same result for the trace split at every byte', () => {
    const stream = [
      rfc8448.records.serverHello,
      rfc8448.records.serverFlight,
      rfc8448.records.newSessionTicket,
      rfc8448.records.serverData
    ]
    const all = Buffer.concat(stream)
    for (let cut = 1; cut < all.length; cut += 7) {
      const rl = new TlsRecordLayer(new TlsHandshake(clientConfig), 'client')
      rl.start()
      const a = rl.receive(all.subarray(0, cut))
      const b = rl.receive(all.subarray(cut))
      expect([...a.send, ...b.send]).toEqual([rfc8448.records.clientFinished])
      expect(Buffer.concat([...a.data, ...b.data])).toEqual(Buffer.from(rfc8448.appData))
    }
  })

  it('refuses a flipped bit anywhere in the server flight with bad_record_mac', () => {
    for (const i of [5, 100, 400, rfc8448.records.serverFlight.length - 1]) {
      const rl = new TlsRecordLayer(new TlsHandshake(clientConfig), 'client')
      rl.start()
      rl.receive(rfc8448.records.serverHello)
      const bad = Uint8Array.from(rfc8448.records.serverFlight)
      bad[i] = (bad[i] as number) ^ 1
      expect(() => rl.receive(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_TLS_BAD_RECORD_MAC', alert: AlertDescription.bad_record_mac })
      )
    }
  })
})

describe('RFC 8448 §3 replayed through the server', () => {
  it('answers the trace ClientHello with the trace ServerHello and handshake secrets', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const secrets: Array<[string, Uint8Array, Uint8Array]> = []
    const hs = new TlsHandshake<undefined>({
      role: 'server',
      credential: { chain: [rfc8448.certificate.subarray(11, 11 + 0x1b0)], privateKey: rsa },
      verifyPeer: () => { throw new Error('no client certificate in §3') },
      randomBytes: () => rfc8448.serverRandom,
      keyShare: g => generateKeyShare(g, rfc8448.serverPrivateKey),
      // §3's EncryptedExtensions: supported_groups, record_size_limit, server_name (empty).
      extensions: [
        { type: 10, data: hex('0012001d00170018001901000101010201030104') },
        { type: 28, data: hex('4001') },
        { type: 0, data: new Uint8Array(0) }
      ]
    })
    const rl = new TlsRecordLayer(hs, 'server', { onSecrets: (level, c, s) => secrets.push([level, c, s]) })
    rl.start()
    const out = rl.receive(rfc8448.records.clientHello)
    expect(out.send[0]).toEqual(rfc8448.records.serverHello)
    expect(secrets[0]).toEqual([
      'handshake',
      rfc8448.secrets.clientHandshakeTraffic,
      rfc8448.secrets.serverHandshakeTraffic
    ])
    // The flight decrypts to §3's EncryptedExtensions ‖ Certificate, then our own CertificateVerify.
    expect(out.send.length).toBe(2)
  })
})

describe('RFC 8448 §5 (HelloRetryRequest) replayed through the client', () => {
  /** §5's ClientHellos: the §3 set without session_ticket, groups x25519, secp256r1, secp384r1. */
  const hrrConfig: TlsHandshakeConfig<string> = {
    ...clientConfig,
    groups: [NamedGroup.x25519, NamedGroup.secp256r1, 0x0018],
    keyShareGroups: [NamedGroup.x25519],
    extensions: (clientConfig.extensions ?? []).filter(e => e.type !== 35),
    // RFC 7685 padding (0x15), which NSS adds to the second ClientHello to make it 512 bytes.
    retryExtensions: [{ type: 21, data: new Uint8Array(0xaf) }],
    extensionOrder: [0, 0xff01, 10, 51, 43, 13, 44, 45, 28, 21],
    randomBytes: () => rfc8448Hrr.clientRandom,
    keyShare: g =>
      generateKeyShare(g, g === NamedGroup.x25519 ? rfc8448Hrr.clientX25519PrivateKey : rfc8448Hrr.clientP256PrivateKey)
  }

  it('the trace\'s P-256 key pair', () => {
    expect(generateKeyShare(NamedGroup.secp256r1, rfc8448Hrr.clientP256PrivateKey).publicKey).toEqual(
      rfc8448Hrr.clientP256PublicKey
    )
  })

  it('ClientHello 1, HelloRetryRequest (cookie echoed), ClientHello 2, ServerHello, the server flight and our Finished: every record byte for byte', () => {
    const secrets: Array<[string, Uint8Array, Uint8Array]> = []
    const rl = new TlsRecordLayer(new TlsHandshake(hrrConfig), 'client', {
      onSecrets: (level, c, s) => secrets.push([level, c, s])
    })
    const r = rfc8448Hrr.records
    expect(rl.start().send).toEqual([r.clientHello1])
    // The HelloRetryRequest asks for secp256r1 and carries a cookie: ClientHello 2 has the P-256
    // share, the cookie, and the transcript starts over from message_hash (RFC 8446 §4.4.1).
    expect(rl.receive(r.helloRetryRequest).send).toEqual([r.clientHello2])
    expect(rl.receive(r.serverHello).send).toEqual([])
    expect(secrets.map(s => s[0])).toEqual(['handshake'])
    const done = rl.receive(r.serverFlight)
    // Our Finished is right only if the whole transcript (message_hash of ClientHello 1, the
    // HelloRetryRequest, ClientHello 2 …) and the P-256 shared secret are.
    expect(done.send).toEqual([r.clientFinished])
    expect(done.complete?.cipherSuite).toBe(CipherSuite.TLS_AES_128_GCM_SHA256)
    expect(done.complete?.peer?.info).toBe('CN=rsa')
    expect(secrets.map(s => s[0])).toEqual(['handshake', 'application'])
  })

  it('the messages inside the records are the ones the trace lists', () => {
    expect(rfc8448Hrr.records.clientHello1.subarray(5)).toEqual(rfc8448Hrr.clientHello1)
    expect(rfc8448Hrr.records.helloRetryRequest.subarray(5)).toEqual(rfc8448Hrr.helloRetryRequest)
    expect(rfc8448Hrr.records.serverHello.subarray(5)).toEqual(rfc8448Hrr.serverHello)
    expect(rfc8448Hrr.records.clientHello2.length).toBe(5 + 512)
  })

  it('a HelloRetryRequest with a different cookie changes ClientHello 2 accordingly, and the trace\'s flight then fails to decrypt', () => {
    const rl = new TlsRecordLayer(new TlsHandshake(hrrConfig), 'client')
    rl.start()
    const hrr = Uint8Array.from(rfc8448Hrr.records.helloRetryRequest)
    const at = Buffer.from(hrr).indexOf(Buffer.from('71dcd04b', 'hex'))
    hrr[at] = (hrr[at] as number) ^ 0xff
    const ch2 = rl.receive(hrr).send[0] as Uint8Array
    expect(Buffer.from(ch2).indexOf(Buffer.from([0x8e, 0xdc, 0xd0, 0x4b]))).toBeGreaterThan(0)
    rl.receive(rfc8448Hrr.records.serverHello)
    // The transcript differs (HelloRetryRequest, ClientHello 2), and with it the handshake traffic
    // keys (they hash the transcript up to ServerHello): the server's flight no longer decrypts.
    expect(() => rl.receive(rfc8448Hrr.records.serverFlight)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_BAD_RECORD_MAC' })
    )
  })
})
