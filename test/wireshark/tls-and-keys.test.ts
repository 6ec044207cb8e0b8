/**
 * The Wireshark plugin against `switchyard decode` on live captures of switchyard ↔ switchyard:
 * over switchyard's own TLS 1.3 (`/tls/1.0.0`; Wireshark's TLS dissector decrypts with the NSS key
 * log lines the switch writes, then hands the application data back to the plugin by ALPN), with
 * yamux chosen in the handshake (ALPN `/yamux/1.0.0`) and mplex negotiated after it (ALPN `libp2p`,
 * then multistream-select), the certificates' libp2p extension decoded and its signature verified;
 * and over Noise with secp256k1, ECDSA and RSA identities, whose
 * signatures the dissector now verifies (libp2p specs peer-ids/peer-ids.md, libgcrypt).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import type { StandardSwitchOptions } from '../../src/index.js'
import { IDENTIFY_CODEC, PING_CODEC, STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { identify } from '../../src/protocols/identify.js'
import { ping } from '../../src/protocols/ping.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { generateEcdsa, generateEd25519, generateRsa, generateSecp256k1 } from '../../src/security/keys.js'
import type { PrivateKey } from '../../src/security/keys.js'
import { KeyLogWriter } from '../../src/trace/keylog.js'
import { decode, fromDecode, fromTshark, parsePdml, record, texts, tshark } from './helpers.js'
import type { PdmlProto } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-wireshark-tls-'))
afterAll(() => { if (process.env.KEEP_WIRESHARK_TEST_DIR === undefined) rmSync(dir, { recursive: true, force: true }) })

const PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)

/** RFC 8446 §4 HandshakeType values Wireshark shows as `tls.handshake.type`. */
const HANDSHAKE_TYPES: Record<string, string> = {
  1: 'ClientHello',
  2: 'ServerHello',
  4: 'NewSessionTicket',
  8: 'EncryptedExtensions',
  11: 'Certificate',
  13: 'CertificateRequest',
  15: 'CertificateVerify',
  20: 'Finished',
  24: 'KeyUpdate'
}

interface Exchange { capture: string, keylog: string, serverPeer: string, clientPeer: string, serverPort: number }

/**
 * A server and a client switch (the client writes the key log), recorded with dumpcap while the
 * client runs the tutorial's stream-proto exchange, two pings and identify over one connection.
 */
async function exchange (
  name: string,
  server: StandardSwitchOptions,
  client: StandardSwitchOptions
): Promise<Exchange> {
  const sw = newStandardSwitch({ log: () => {}, ...server })
  sw.mount(streamProtoProtocol)
  await sw.start()
  const a = sw.peerInfo.addrs[0]?.toNodeAddress()
  if (a === undefined) throw new Error('no address')
  const capture = join(dir, `${name}.pcapng`)
  const keylog = join(dir, `${name}.keys`)
  const writer = new KeyLogWriter(keylog)
  const cl = newStandardSwitch({ log: () => {}, listenAddrs: [], ...client, keyLog: k => { writer.write(k) } })
  await cl.start()
  const rec = await record(a.port, capture)
  const target = `/ip4/127.0.0.1/tcp/${a.port}/p2p/${sw.peerId.toString()}`
  try {
    expect(await streamProtoClient(await cl.dial(target, STREAM_PROTO_CODEC))).toEqual(PARTS)
    expect((await ping(await cl.dial(target, PING_CODEC), { count: 2 })).length).toBe(2)
    expect((await identify(await cl.dial(target, IDENTIFY_CODEC))).protocols).toContain(STREAM_PROTO_CODEC)
    expect(cl.connections()).toHaveLength(1)
  } finally {
    await cl.stop()
    await sw.stop()
    await rec.stop()
  }
  return { capture, keylog, serverPeer: sw.peerId.toString(), clientPeer: cl.peerId.toString(), serverPort: a.port }
}

/**
 * The TLS handshake messages in capture order, as Wireshark's TLS dissector shows them. (Not per
 * direction by TCP port: the ClientHello a lazy dialer sends with its proposal is handed to TLS in
 * the frame of the listener's answer, when the plugin learns that /tls/1.0.0 was agreed.)
 */
async function tsharkHandshakes (ex: Exchange): Promise<string[]> {
  const out = await tshark(ex.capture, ex.keylog, [
    '-Y',
    'tls.handshake.type',
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-e',
    'tls.handshake.type'
  ])
  return out.trim().split('\n').flatMap(line => line.split(',').map(t => HANDSHAKE_TYPES[t] ?? `type ${t}`))
}

function decodeHandshakes (
  records: ReadonlyArray<Record<string, unknown>>
): { all: string[], out: string[], in: string[] } {
  const r = { all: [] as string[], out: [] as string[], in: [] as string[] }
  for (const rec of records) {
    if (rec.layer !== 'tls' || rec.kind !== 'handshake') continue
    r.all.push(rec.message as string)
    r[rec.dir as 'out' | 'in'].push(rec.message as string)
  }
  return r
}

/** `tshark -z libp2p.streams,tree`'s rows as { "<protocol>": n, "<protocol> <opener>": n }. */
function streamStats (text: string): Record<string, number> {
  const out: Record<string, number> = {}
  let protocol = ''
  for (const line of text.split('\n')) {
    const m = /^( +)(\S.*?)\s{2,}(\d+)\s/.exec(line)
    if (m === null) continue
    if (m[1] === ' ') {
      protocol = m[2] as string
      out[protocol] = Number(m[3])
    } else out[`${protocol} ${(m[2] as string).replace('opened by the ', '')}`] = Number(m[3])
  }
  return out
}

/** The same counts from `switchyard decode`'s stream protocols ("<opener> <stream> <protocol>"). */
function streamCounts (protocols: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of protocols) {
    const [opener, , protocol] = p.split(' ') as [string, string, string]
    out[protocol] = (out[protocol] ?? 0) + 1
    out[`${protocol} ${opener}`] = (out[`${protocol} ${opener}`] ?? 0) + 1
  }
  return out
}

const fields = (protos: readonly PdmlProto[], name: string): string[] =>
  protos.flatMap(p => p.fields.filter(f => f.name === name).map(f => f.show))

describe('wireshark/tshark.sh on switchyard ↔ switchyard over its own TLS 1.3, compared with switchyard decode', () => {
  const cases = [
    {
      muxer: 'yamux',
      early: true,
      alpn: '/yamux/1.0.0',
      frames: 'yamux',
      keys: [generateEd25519, generateEd25519],
      types: ['Ed25519', 'Ed25519']
    },
    {
      muxer: 'mplex',
      early: false,
      alpn: 'libp2p',
      frames: 'mplex',
      keys: [generateSecp256k1, () => generateRsa(2048)],
      types: ['Secp256k1', 'RSA']
    }
  ] as const
  /** peer-ids.md KeyType numbers, as `libp2p.tls.key_type` shows them. */
  const KEY_TYPES: Record<string, string> = { 0: 'RSA', 1: 'Ed25519', 2: 'Secp256k1', 3: 'ECDSA' }
  for (const c of cases) {
    it(
      `TLS + ${c.muxer} (ALPN ${c.alpn}${c.early ? '' : ', then multistream for the muxer'}; host keys ${
        c.types.join('/')
      }): certificates' libp2p extensions, frames, streams, protocols and messages agree`,
      async () => {
        const layers: StandardSwitchOptions = { security: ['tls'], muxers: [c.muxer], earlyMuxerNegotiation: c.early }
        const ex = await exchange(`tls-${c.muxer}`, { ...layers, identity: c.keys[0]() }, {
          ...layers,
          identity: c.keys[1]()
        })
        const protos = parsePdml(await tshark(ex.capture, ex.keylog, ['-T', 'pdml']))
        const records = await decode(ex.capture, ex.keylog, join(dir, `tls-${c.muxer}.jsonl`))
        const ts = fromTshark(protos)
        const dec = fromDecode(records)
        // Everything the two views share: connection multistream up to /tls/1.0.0, then (decrypted)
        // every muxer frame, stream protocol, stream multistream message and stream message.
        expect(ts).toEqual(dec)
        // (with ALPN `libp2p` the muxer's multistream follows inside TLS, on the connection)
        expect(ts.connectionMultistream.out).toEqual([
          '/multistream/1.0.0',
          '/tls/1.0.0',
          ...(c.early ? [] : ['/multistream/1.0.0', '/mplex/6.7.0'])
        ])
        expect(ts[c.frames].out.length).toBeGreaterThan(5)
        expect(ts[c.frames].in.length).toBeGreaterThan(5)
        expect(ts.protocols).toEqual(expect.arrayContaining([
          expect.stringContaining(STREAM_PROTO_CODEC),
          expect.stringContaining(PING_CODEC),
          expect.stringContaining(IDENTIFY_CODEC)
        ]))
        expect(texts(protos)).toEqual(expect.arrayContaining(['please send data', ...PARTS]))
        // The TLS handshake itself: the same messages, each way, in Wireshark's TLS and in decode.
        const dh = decodeHandshakes(records)
        expect(await tsharkHandshakes(ex)).toEqual(dh.all)
        expect(dh.out).toEqual(['ClientHello', 'Certificate', 'CertificateVerify', 'Finished'])
        expect(dh.in).toEqual([
          'ServerHello',
          'EncryptedExtensions',
          'CertificateRequest',
          'Certificate',
          'CertificateVerify',
          'Finished'
        ])
        // ALPN as negotiated, in Wireshark's TLS fields
        const alpn = await tshark(ex.capture, ex.keylog, [
          '-Y',
          'tls.handshake.type == 8',
          '-T',
          'fields',
          '-e',
          'tls.handshake.extensions_alpn_str'
        ])
        expect(alpn.trim()).toBe(c.alpn)
        // Each certificate's libp2p extension (tls.md): key type, peer id, signature over the
        // certificate key verified — in the plugin (called by Wireshark's X.509 for the OID) and decode.
        const ext = await tshark(ex.capture, ex.keylog, [
          '-Y',
          'libp2p.tls.extension',
          '-T',
          'fields',
          '-e',
          'libp2p.tls.key_type',
          '-e',
          'libp2p.peer_id',
          '-e',
          'libp2p.tls.signature_verified'
        ])
        const fromTs = ext.trim().split('\n').map(l => {
          const [t, id, v] = l.split('\t')
          return `${KEY_TYPES[t ?? ''] ?? String(t)} ${String(id)} ${v === '1' ? 'verified' : String(v)}`
        })
        const fromDec = records.filter(r => r.layer === 'tls' && r.kind === 'handshake' && r.message === 'Certificate')
          .map(r => {
            const x = (r.info as { libp2p: { keyType: string, peerId: string, signature: string } }).libp2p
            return `${x.keyType} ${x.peerId} ${x.signature}`
          })
        expect(fromTs).toEqual(fromDec)
        expect(fromTs).toEqual([`${c.types[0]} ${ex.serverPeer} verified`, `${c.types[1]} ${ex.clientPeer} verified`])
        // Statistics → libp2p → Streams by protocol: one count per agreed stream, as decode lists them
        const stats = await tshark(ex.capture, ex.keylog, ['-q', '-z', 'libp2p.streams,tree'])
        expect(streamStats(stats)).toEqual(streamCounts(dec.protocols))
        // identify decoded from inside TLS: the server's agent
        expect(fields(protos, 'identify.agent_version').some(a => a.startsWith('switchyard/'))).toBe(true)
      },
      90_000
    )
  }
})

describe('wireshark/tshark.sh verifies identity signatures of every libp2p key type in the Noise payload', () => {
  const keys: Array<[string, number, () => PrivateKey]> = [
    ['secp256k1', 2, generateSecp256k1],
    ['ECDSA P-256', 3, () => generateEcdsa('P-256')],
    ['RSA 2048', 0, () => generateRsa(2048)]
  ]
  for (const [name, type, make] of keys) {
    it(
      `${name} identities on both sides: key type, peer ids and both signatures verified; the same view as decode`,
      async () => {
        const ex = await exchange(`noise-${name.replace(/\W/g, '')}`, { identity: make() }, { identity: make() })
        const protos = parsePdml(await tshark(ex.capture, ex.keylog, ['-T', 'pdml']))
        const ts = fromTshark(protos)
        expect(ts).toEqual(fromDecode(await decode(ex.capture, ex.keylog, join(dir, `noise-${type}.jsonl`))))
        expect(ts.handshake[1]).toContain(ex.serverPeer)
        expect(ts.handshake[2]).toContain(ex.clientPeer)
        expect(fields(protos, 'noise.payload.identity_key.type')).toEqual([String(type), String(type)])
        expect(fields(protos, 'noise.payload.signature_verified')).toEqual(['1', '1'])
      },
      90_000
    )
  }

  it('Ed25519 against RSA: each side\'s key type, both signatures verified', async () => {
    const ex = await exchange('noise-mixed', { identity: generateEd25519() }, { identity: generateRsa(2048) })
    const protos = parsePdml(await tshark(ex.capture, ex.keylog, ['-T', 'pdml']))
    expect(fields(protos, 'noise.payload.identity_key.type')).toEqual(['1', '0'])
    expect(fields(protos, 'noise.payload.signature_verified')).toEqual(['1', '1'])
  }, 90_000)

  it(
    'a client whose identity signed something else: its signature INVALID with expert info, the server\'s verified',
    async () => {
      // The client signs the wrong bytes (a flipped static key): the server refuses it after message 3,
      // but the client logged its keys at the end of its handshake, so message 3's payload decrypts.
      const honest = generateSecp256k1()
      const liar = Object.create(honest, {
        sign: {
          value: (msg: Uint8Array) => {
            const m = Uint8Array.from(msg)
            m[m.length - 1] = (m[m.length - 1] as number) ^ 1
            return honest.sign(m)
          }
        }
      }) as PrivateKey
      const sw = newStandardSwitch({ log: () => {} })
      await sw.start()
      const a = sw.peerInfo.addrs[0]?.toNodeAddress()
      if (a === undefined) throw new Error('no address')
      const capture = join(dir, 'noise-invalid.pcapng')
      const keylog = join(dir, 'noise-invalid.keys')
      const writer = new KeyLogWriter(keylog)
      const cl = newStandardSwitch({
        log: () => {},
        listenAddrs: [],
        identity: liar,
        keyLog: k => {
          writer.write(k)
        }
      })
      await cl.start()
      const rec = await record(a.port, capture)
      const refused = sw.next('connection:error')
      try {
        // (the client's side may already count the connection open: whatever it does next fails)
        await cl.dial(`/ip4/127.0.0.1/tcp/${a.port}/p2p/${sw.peerId.toString()}`, PING_CODEC).then(async st =>
          await ping(st, { count: 1 })
        ).catch(() => {})
        expect((await refused).error.message).toMatch(/signature/i)
      } finally {
        await cl.stop()
        await sw.stop()
        await rec.stop()
      }
      const protos = parsePdml(await tshark(capture, keylog, ['-T', 'pdml']))
      expect(fields(protos, 'noise.payload.identity_key.type')).toEqual(['1', '2'])
      expect(fields(protos, 'noise.payload.signature_verified')).toEqual(['1', '0'])
      const expert = await tshark(capture, keylog, ['-q', '-z', 'expert,error'])
      expect(expert).toContain('the identity signature over the Noise static key does not verify')
    },
    90_000
  )
})
