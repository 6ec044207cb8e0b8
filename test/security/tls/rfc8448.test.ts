/**
 * RFC 8448 §3 "Simple 1-RTT Handshake" replayed byte for byte through the record layer and the
 * handshake machine, with the trace's randomness and ephemeral keys injected.
 */
import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateKeyShare } from '../../../src/security/tls/primitives.js'
import { TlsHandshake } from '../../../src/security/tls/handshake.js'
import type { TlsHandshakeConfig } from '../../../src/security/tls/handshake.js'
import { TlsRecordLayer } from '../../../src/security/tls/record-layer.js'
import { AlertDescription, CipherSuite, NamedGroup } from '../../../src/security/tls/constants.js'
import { deriveSecret, finishedVerifyData, hkdfExtract, KeySchedule, SUITES, trafficKeys } from '../../../src/security/tls/key-schedule.js'
import { hex, rfc8448 } from './vectors.js'

const SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]

/** The ClientHello of §3 lists more than we implement; the extra ones are passed through raw. */
const clientConfig: TlsHandshakeConfig<string> = {
  role: 'client',
  cipherSuites: [0x1301, 0x1303, 0x1302],
  groups: [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104],
  keyShareGroups: [NamedGroup.x25519],
  signatureSchemes: [0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0402, 0x0502, 0x0602, 0x0202],
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
    const helloHash = new Uint8Array(crypto.createHash('sha256').update(rfc8448.clientHello).update(rfc8448.serverHello).digest())
    const hs = ks.handshake(rfc8448.secrets.shared, helloHash)
    expect(ks.handshakeSecret).toEqual(rfc8448.secrets.handshake)
    expect(hs.client).toEqual(rfc8448.secrets.clientHandshakeTraffic)
    expect(hs.server).toEqual(rfc8448.secrets.serverHandshakeTraffic)
    expect(trafficKeys(SUITE, hs.server)).toEqual({ key: rfc8448.secrets.serverHandshakeKey, iv: rfc8448.secrets.serverHandshakeIv })
    expect(trafficKeys(SUITE, hs.client)).toEqual({ key: rfc8448.secrets.clientHandshakeKey, iv: rfc8448.secrets.clientHandshakeIv })
    const th = crypto.createHash('sha256')
    for (const m of [rfc8448.clientHello, rfc8448.serverHello, rfc8448.encryptedExtensions, rfc8448.certificate, rfc8448.certificateVerify]) th.update(m)
    expect(finishedVerifyData(SUITE, hs.server, new Uint8Array(th.copy().digest()))).toEqual(rfc8448.serverFinished.subarray(4))
    th.update(rfc8448.serverFinished)
    const serverFinishedHash = new Uint8Array(th.copy().digest())
    const app = ks.application(serverFinishedHash)
    expect(ks.masterSecret).toEqual(rfc8448.secrets.master)
    expect(app.client).toEqual(rfc8448.secrets.clientApplicationTraffic)
    expect(app.server).toEqual(rfc8448.secrets.serverApplicationTraffic)
    expect(trafficKeys(SUITE, app.server)).toEqual({ key: rfc8448.secrets.serverApplicationKey, iv: rfc8448.secrets.serverApplicationIv })
    expect(trafficKeys(SUITE, app.client)).toEqual({ key: rfc8448.secrets.clientApplicationKey, iv: rfc8448.secrets.clientApplicationIv })
    expect(finishedVerifyData(SUITE, hs.client, serverFinishedHash)).toEqual(rfc8448.clientFinished.subarray(4))
    // Derive-Secret / HKDF-Extract are the building blocks above; pin one direct use.
    expect(deriveSecret('sha256', hkdfExtract('sha256', new Uint8Array(32), new Uint8Array(32)), 'derived', new Uint8Array(crypto.createHash('sha256').digest())))
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
    expect(secrets[0]).toEqual(['handshake', rfc8448.secrets.clientHandshakeTraffic, rfc8448.secrets.serverHandshakeTraffic])

    const afterFlight = rl.receive(rfc8448.records.serverFlight)
    expect(afterFlight.send).toEqual([rfc8448.records.clientFinished])
    expect(afterFlight.complete?.cipherSuite).toBe(CipherSuite.TLS_AES_128_GCM_SHA256)
    expect(afterFlight.complete?.peer?.info).toBe('CN=rsa')
    expect(secrets[1]).toEqual(['application', rfc8448.secrets.clientApplicationTraffic, rfc8448.secrets.serverApplicationTraffic])

    // NewSessionTicket: accepted and ignored.
    expect(rl.receive(rfc8448.records.newSessionTicket)).toEqual({ send: [], data: [] })
    expect(rl.encrypt([rfc8448.appData])).toEqual([rfc8448.records.clientData])
    expect(rl.receive(rfc8448.records.serverData).data).toEqual([rfc8448.appData])
    expect(rl.alertRecord(AlertDescription.close_notify)).toEqual(rfc8448.records.clientAlert)
    expect(rl.receive(rfc8448.records.serverAlert).closeNotify).toBe(true)
  })

  it('gives the same result for the trace split at every byte', () => {
    const stream = [rfc8448.records.serverHello, rfc8448.records.serverFlight, rfc8448.records.newSessionTicket, rfc8448.records.serverData]
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
      expect(() => rl.receive(bad)).toThrow(expect.objectContaining({ code: 'ERR_TLS_BAD_RECORD_MAC', alert: AlertDescription.bad_record_mac }))
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
    expect(secrets[0]).toEqual(['handshake', rfc8448.secrets.clientHandshakeTraffic, rfc8448.secrets.serverHandshakeTraffic])
    // The flight decrypts to §3's EncryptedExtensions ‖ Certificate, then our own CertificateVerify.
    expect(out.send.length).toBe(2)
  })
})
