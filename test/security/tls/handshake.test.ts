/**
 * The handshake machine in both roles against itself (no records: messages handed over per level,
 * the way QUIC drives it), and the record layer pair: HelloRetryRequest, KeyUpdate, ALPN, client
 * certificates, alerts.
 */
import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TlsHandshake } from '../../../src/security/tls/handshake.js'
import type { TlsAction, TlsHandshakeConfig, TlsHandshakeResult } from '../../../src/security/tls/handshake.js'
import { TlsRecordLayer } from '../../../src/security/tls/record-layer.js'
import { AlertDescription, CipherSuite, NamedGroup } from '../../../src/security/tls/constants.js'

function credential (
  curve = 'prime256v1'
): { chain: Uint8Array[], privateKey: crypto.KeyObject, publicKey: crypto.KeyObject } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve })
  // The machine treats certificates as opaque: verifyPeer maps them to a key.
  return { chain: [new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))], privateKey, publicKey }
}

const verify = (chain: readonly Uint8Array[]): { publicKey: crypto.KeyObject, info: string } => ({
  publicKey: crypto.createPublicKey({ key: Buffer.from(chain[0] as Uint8Array), format: 'der', type: 'spki' }),
  info: 'peer'
})

function configs (
  client: Partial<TlsHandshakeConfig<string>> = {},
  server: Partial<TlsHandshakeConfig<string>> = {}
): [TlsHandshakeConfig<string>, TlsHandshakeConfig<string>] {
  const c = credential()
  const s = credential()
  return [
    { role: 'client', credential: c, verifyPeer: verify, ...client },
    { role: 'server', credential: s, verifyPeer: verify, requireClientCertificate: true, ...server }
  ]
}

/** Run both machines to completion, handing messages over by level like QUIC CRYPTO frames. */
function runMachines (
  cc: TlsHandshakeConfig<string>,
  sc: TlsHandshakeConfig<string>
): {
  client: TlsHandshakeResult<string>,
  server: TlsHandshakeResult<string>,
  clientActions: Array<TlsAction<string>>,
  serverActions: Array<TlsAction<string>>
} {
  const client = new TlsHandshake(cc)
  const server = new TlsHandshake(sc)
  const clientActions: Array<TlsAction<string>> = []
  const serverActions: Array<TlsAction<string>> = []
  server.start()
  let toServer = client.start()
  clientActions.push(...toServer)
  for (let i = 0; i < 10 && !(client.complete && server.complete); i++) {
    const toClient: Array<TlsAction<string>> = []
    for (const a of toServer) if (a.type === 'message') toClient.push(...server.receive(a.level, a.data))
    serverActions.push(...toClient)
    toServer = []
    for (const a of toClient) if (a.type === 'message') toServer.push(...client.receive(a.level, a.data))
    clientActions.push(...toServer)
  }
  const done = (xs: Array<TlsAction<string>>): TlsHandshakeResult<string> => {
    const c = xs.find(a => a.type === 'complete')
    if (c?.type !== 'complete') throw new Error('not complete')
    return c.result
  }
  return { client: done(clientActions), server: done(serverActions), clientActions, serverActions }
}

describe('TlsHandshake: both roles, messages per level (the QUIC shape)', () => {
  it('completes with client authentication and agrees on secrets', () => {
    const [cc, sc] = configs({ alpn: ['/yamux/1.0.0', 'libp2p'] }, { alpn: ['/mplex/6.7.0', '/yamux/1.0.0', 'libp2p'] })
    const r = runMachines(cc, sc)
    expect(r.client.alpn).toBe('/yamux/1.0.0')
    expect(r.server.alpn).toBe('/yamux/1.0.0')
    expect(r.client.peer?.info).toBe('peer')
    expect(r.server.peer?.info).toBe('peer')
    const secrets = (xs: Array<TlsAction<string>>): unknown[] => xs.filter(a => a.type === 'secrets')
    expect(secrets(r.clientActions)).toEqual(secrets(r.serverActions))
    expect(secrets(r.clientActions).length).toBe(2)
  })

  for (
    const suite of [
      CipherSuite.TLS_AES_128_GCM_SHA256,
      CipherSuite.TLS_AES_256_GCM_SHA384,
      CipherSuite.TLS_CHACHA20_POLY1305_SHA256
    ]
  ) {
    for (const group of [NamedGroup.x25519, NamedGroup.secp256r1]) {
      it(`negotiates suite 0x${suite.toString(16)} with group 0x${group.toString(16)}`, () => {
        const [cc, sc] = configs({ cipherSuites: [suite], groups: [group] }, {})
        const r = runMachines(cc, sc)
        expect(r.client.cipherSuite).toBe(suite)
        expect(r.server.group).toBe(group)
        expect(r.client.helloRetry).toBe(false)
      })
    }
  }

  it('sends a HelloRetryRequest when the client shared a group the server does not take', () => {
    const [cc, sc] = configs({ groups: [NamedGroup.x25519, NamedGroup.secp256r1] }, { groups: [NamedGroup.secp256r1] })
    const r = runMachines(cc, sc)
    expect(r.client.helloRetry).toBe(true)
    expect(r.server.helloRetry).toBe(true)
    expect(r.client.group).toBe(NamedGroup.secp256r1)
  })

  it('passes extra extensions through (quic_transport_parameters)', () => {
    const params = Uint8Array.of(1, 2, 3)
    const [cc, sc] = configs({ extensions: [{ type: 0x39, data: params }], quic: true }, {
      extensions: [{ type: 0x39, data: Uint8Array.of(9) }],
      quic: true
    })
    const r = runMachines(cc, sc)
    expect(r.server.peerExtensions.find(e => e.type === 0x39)?.data).toEqual(params)
    expect(r.client.peerExtensions.find(e => e.type === 0x39)?.data).toEqual(Uint8Array.of(9))
  })

  it('refuses a client without a certificate (certificate_required)', () => {
    const [cc, sc] = configs({ credential: undefined })
    expect(() => runMachines(cc, sc)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_REQUIRED', alert: AlertDescription.certificate_required })
    )
  })

  it('refuses when no ALPN protocol is shared (no_application_protocol)', () => {
    const [cc, sc] = configs({ alpn: ['a'] }, { alpn: ['b'] })
    expect(() => runMachines(cc, sc)).toThrow(expect.objectContaining({ code: 'ERR_TLS_NO_APPLICATION_PROTOCOL' }))
  })

  it('refuses no common cipher suite (handshake_failure)', () => {
    const [cc, sc] = configs({ cipherSuites: [CipherSuite.TLS_AES_256_GCM_SHA384] }, {
      cipherSuites: [CipherSuite.TLS_AES_128_GCM_SHA256]
    })
    expect(() => runMachines(cc, sc)).toThrow(expect.objectContaining({ code: 'ERR_TLS_HANDSHAKE_FAILURE' }))
  })

  it('refuses a CertificateVerify made with another key (decrypt_error)', () => {
    const other = credential()
    const [cc, sc] = configs({}, { verifyPeer: () => ({ publicKey: other.publicKey, info: 'x' }) })
    expect(() => runMachines(cc, sc)).toThrow(expect.objectContaining({ code: 'ERR_TLS_DECRYPT_ERROR' }))
  })

  it('refuses a message larger than the cap before buffering it', () => {
    const m = new TlsHandshake({
      role: 'server',
      credential: credential(),
      verifyPeer: verify,
      maxHandshakeMessageBytes: 100
    })
    m.start()
    expect(() => m.receive('initial', Uint8Array.of(1, 0, 1, 0))).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_MESSAGE_TOO_LARGE' })
    )
  })
})

/** Two record layers wired back to back. */
function recordPair (
  cc: TlsHandshakeConfig<string>,
  sc: TlsHandshakeConfig<string>
): {
  client: TlsRecordLayer<string>,
  server: TlsRecordLayer<string>,
  pump: (from: 'client' | 'server', records: Uint8Array[]) => Record<'client' | 'server', Uint8Array[]>
} {
  const client = new TlsRecordLayer(new TlsHandshake(cc), 'client')
  const server = new TlsRecordLayer(new TlsHandshake(sc), 'server')
  server.start()
  const received: Record<'client' | 'server', Uint8Array[]> = { client: [], server: [] }
  const pump = (from: 'client' | 'server', records: Uint8Array[]): Record<'client' | 'server', Uint8Array[]> => {
    received.client = []; received.server = []
    let queue = records
    let side = from
    while (queue.length > 0) {
      const to = side === 'client' ? server : client
      const next: Uint8Array[] = []
      for (const r of queue) {
        const o = to.receive(r)
        next.push(...o.send)
        received[side === 'client' ? 'server' : 'client'].push(...o.data)
      }
      queue = next
      side = side === 'client' ? 'server' : 'client'
    }
    return received
  }
  pump('client', client.start().send)
  return { client, server, pump }
}

describe('TlsRecordLayer pair', () => {
  it('carries data both ways, across KeyUpdates in both directions', () => {
    const [cc, sc] = configs()
    const { client, server, pump } = recordPair(cc, sc)
    expect(client.handshake.complete && server.handshake.complete).toBe(true)
    const big = crypto.randomBytes(100_000)
    const got = pump('client', client.encrypt([big.subarray(0, 3), big.subarray(3)]))
    expect(Buffer.concat(got.server)).toEqual(big)
    pump('client', client.keyUpdate(true)) // the server answers with its own KeyUpdate
    pump('server', server.keyUpdate(false))
    expect(Buffer.concat(pump('server', server.encrypt([Buffer.from('after')])).client).toString()).toBe('after')
    expect(Buffer.concat(pump('client', client.encrypt([Buffer.from('again')])).server).toString()).toBe('again')
  })

  it('records never exceed 2^14 plaintext bytes', () => {
    const [cc, sc] = configs()
    const { client } = recordPair(cc, sc)
    const records = client.encrypt([new Uint8Array(40_000)])
    expect(records.map(r => r.length)).toEqual([16384 + 22, 16384 + 22, 40_000 - 32768 + 22])
  })

  it('drops a change_cipher_spec record during the handshake, refuses one after', () => {
    const [cc, sc] = configs()
    const client = new TlsRecordLayer(new TlsHandshake(cc), 'client')
    const server = new TlsRecordLayer(new TlsHandshake(sc), 'server')
    server.start()
    const ch = client.start().send
    expect(server.receive(Uint8Array.of(20, 3, 3, 0, 1, 1)).send).toEqual([])
    const flight = server.receive(ch[0] as Uint8Array).send
    for (const r of flight) client.receive(r)
    expect(() => client.receive(Uint8Array.of(20, 3, 3, 0, 1, 1))).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_UNEXPECTED_MESSAGE' })
    )
  })

  it('understands a fatal alert from the peer', () => {
    const [cc, sc] = configs()
    const { client, server } = recordPair(cc, sc)
    const alert = server.alertRecord(AlertDescription.internal_error)
    expect(() => client.receive(alert)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_ALERT_RECEIVED', alert: AlertDescription.internal_error, remote: true })
    )
  })

  it('refuses an oversize record at its header', () => {
    const [cc, sc] = configs()
    const { client } = recordPair(cc, sc)
    expect(() => client.receive(Uint8Array.of(23, 3, 3, 0x41, 0x01))).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_RECORD_OVERFLOW', alert: AlertDescription.record_overflow })
    )
  })
})
