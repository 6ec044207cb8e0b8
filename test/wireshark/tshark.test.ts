/**
 * The Wireshark plugin (wireshark/packet-libp2p.c through wireshark/tshark.sh) against switchyard's
 * own capture decoder on the same captures: recorded live here with dumpcap on loopback while
 * switchyard talks to itself (yamux, mplex) and to js-libp2p, with a key log, a js-libp2p pair over
 * TLS, and committed fixtures (the tutorial; switchyard ↔ the go-libp2p and rust-libp2p interop peers). tshark's view
 * (-T pdml) and `switchyard decode`'s (--trace-file) must agree on the
 * connection's multistream messages, the Noise handshake (sizes, peer ids), every transport message,
 * every yamux/mplex frame, every stream's protocol and multistream messages, and every decrypted
 * message. A machine without tshark/dumpcap fails these tests (.ci/run installs them).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping as jsPing } from '@libp2p/ping'
import { identify as jsIdentify } from '@libp2p/identify'
import { newStandardSwitch } from '../../src/index.js'
import { IDENTIFY_CODEC, PING_CODEC, STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { identify } from '../../src/protocols/identify.js'
import { ping } from '../../src/protocols/ping.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { main } from '../../src/cli/main.js'
import { KeyLogWriter } from '../../src/trace/keylog.js'
import { decode, FIXTURES, fromDecode, fromTshark, parsePdml, record, texts, tshark } from './helpers.js'
import type { Comparable, PdmlProto } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-wireshark-'))
afterAll(() => { if (process.env.KEEP_WIRESHARK_TEST_DIR === undefined) rmSync(dir, { recursive: true, force: true }) })

const PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)
const silent = { out: () => {}, err: () => {}, signal: new Promise<string>(() => {}) }

/** tshark and decode on one capture; both views, and tshark's items. */
async function both (
  name: string,
  capture: string,
  keylog: string | undefined
): Promise<{ ts: Comparable, dec: Comparable, protos: PdmlProto[] }> {
  const protos = parsePdml(await tshark(capture, keylog, ['-T', 'pdml']))
  const records = await decode(capture, keylog, join(dir, `${name}.jsonl`))
  return { ts: fromTshark(protos), dec: fromDecode(records), protos }
}

function nonEmpty (c: Comparable): void {
  expect(c.handshake.length).toBe(3)
  expect(c.transport.out.length).toBeGreaterThan(0)
  expect(c.transport.in.length).toBeGreaterThan(0)
}

describe('wireshark/tshark.sh: the libp2p plugin agrees with switchyard decode', () => {
  it(
    'switchyard ↔ switchyard, Noise + yamux: the tutorial exchange (switchyard stream --keylog), recorded live',
    async () => {
      const server = newStandardSwitch({ log: () => {} })
      server.mount(streamProtoProtocol)
      await server.start()
      const a = server.peerInfo.addrs[0]?.toNodeAddress()
      if (a === undefined) throw new Error('no address')
      const capture = join(dir, 'yamux.pcapng')
      const keylog = join(dir, 'yamux.keys')
      const rec = await record(a.port, capture)
      let code: number
      try {
        code = await main([
          'stream',
          `/ip4/127.0.0.1/tcp/${a.port}/p2p/${server.peerId.toString()}`,
          '--keylog',
          keylog
        ], silent)
      } finally {
        await server.stop()
        await rec.stop()
      }
      expect(code).toBe(0)
      const { ts, dec, protos } = await both('yamux', capture, keylog)
      nonEmpty(ts)
      expect(ts).toEqual(dec)
      expect(ts.connectionMultistream.out).toEqual(['/multistream/1.0.0', '/noise'])
      expect(ts.handshake[1]).toContain(server.peerId.toString())
      expect(ts.yamux.out.length).toBeGreaterThan(3)
      expect(ts.protocols).toContain(`client 3 ${STREAM_PROTO_CODEC}`)
      expect(texts(protos)).toEqual(['please send data', ...PARTS])
      // the display filters of the issue
      const filtered = await tshark(capture, keylog, [
        '-Y',
        `libp2p.protocol == "${STREAM_PROTO_CODEC}" && yamux.stream_id == 3`,
        '-T',
        'fields',
        '-e',
        'frame.number'
      ])
      expect(filtered.trim().split('\n').length).toBeGreaterThan(0)
      const peers = await tshark(capture, keylog, [
        '-Y',
        `libp2p.peer_id == "${server.peerId.toString()}"`,
        '-T',
        'fields',
        '-e',
        'noise.handshake'
      ])
      expect(peers.trim().split('\n')).toContain('2')
    },
    60_000
  )

  it('switchyard ↔ switchyard, Noise + mplex: stream-proto, ping and identify, recorded live', async () => {
    const server = newStandardSwitch({ log: () => {}, muxers: ['mplex'] })
    server.mount(streamProtoProtocol)
    await server.start()
    const a = server.peerInfo.addrs[0]?.toNodeAddress()
    if (a === undefined) throw new Error('no address')
    const capture = join(dir, 'mplex.pcapng')
    const keylog = join(dir, 'mplex.keys')
    const writer = new KeyLogWriter(keylog)
    const client = newStandardSwitch({ log: () => {}, muxers: ['mplex'], keyLog: k => { writer.write(k) } })
    await client.start()
    const rec = await record(a.port, capture)
    const target = `/ip4/127.0.0.1/tcp/${a.port}/p2p/${server.peerId.toString()}`
    try {
      expect(await streamProtoClient(await client.dial(target, STREAM_PROTO_CODEC))).toEqual(PARTS)
      expect((await ping(await client.dial(target, PING_CODEC), { count: 2 })).length).toBe(2)
      expect((await identify(await client.dial(target, IDENTIFY_CODEC))).protocols).toContain(STREAM_PROTO_CODEC)
    } finally {
      await client.stop()
      await server.stop()
      await rec.stop()
    }
    const { ts, dec, protos } = await both('mplex', capture, keylog)
    nonEmpty(ts)
    expect(ts).toEqual(dec)
    expect(ts.yamux).toEqual({ out: [], in: [] })
    expect(ts.mplex.out.length).toBeGreaterThan(3)
    expect(ts.protocols).toEqual(
      expect.arrayContaining([
        expect.stringContaining(PING_CODEC),
        expect.stringContaining(IDENTIFY_CODEC),
        expect.stringContaining(STREAM_PROTO_CODEC)
      ])
    )
    expect(texts(protos)).toEqual(expect.arrayContaining(['please send data', ...PARTS]))
    // identify decoded: the server's protocols as identify.protocol fields
    const ids = protos.flatMap(p => p.fields.filter(f => f.name === 'identify.protocol').map(f => f.show))
    expect(ids).toContain(STREAM_PROTO_CODEC)
    // ping: 32-byte payloads
    expect(protos.some(p => p.fields.some(f => f.name === 'libp2p.ping.payload'))).toBe(true)
  }, 60_000)

  it(
    'switchyard ↔ js-libp2p (Noise + yamux): ping and identify, recorded live, only our side logging keys',
    async () => {
      const js = await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { ping: jsPing(), identify: jsIdentify() }
      })
      const jsAddr = js.getMultiaddrs()[0]
      if (jsAddr === undefined) throw new Error('no js address')
      const port = Number(jsAddr.toString().split('/')[4])
      const capture = join(dir, 'js.pcapng')
      const keylog = join(dir, 'js.keys')
      const writer = new KeyLogWriter(keylog)
      const client = newStandardSwitch({
        log: () => {},
        keyLog: k => {
          writer.write(k)
        }
      })
      await client.start()
      const rec = await record(port, capture)
      try {
        expect((await ping(await client.dial(jsAddr.toString(), PING_CODEC), { count: 2 })).length).toBe(2)
        const msg = await identify(await client.dial(jsAddr.toString(), IDENTIFY_CODEC))
        expect(msg.protocols).toContain(PING_CODEC)
      } finally {
        await client.stop()
        await js.stop()
        await rec.stop()
      }
      const { ts, dec, protos } = await both('js', capture, keylog)
      nonEmpty(ts)
      expect(ts).toEqual(dec)
      expect(ts.handshake[1]).toContain(js.peerId.toString())
      const agents = protos.flatMap(p => p.fields.filter(f => f.name === 'identify.agent_version').map(f => f.show))
      expect(agents.some(a => a.includes('js-libp2p'))).toBe(true)
    },
    60_000
  )

  it(
    'js-libp2p ↔ js-libp2p over /tls/1.0.0 + yamux (ALPN early muxer): Wireshark\'s TLS decrypts with the NSS key log and hands the stream back',
    async () => {
      const keylog = join(dir, 'tls.keys')
      const capture = join(dir, 'tls.pcapng')
      const pair = spawn(process.execPath, [
        `--tls-keylog=${keylog}`,
        fileURLToPath(new URL('./tls-pair.mjs', import.meta.url))
      ], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      let errText = ''
      pair.stderr.on('data', (d: Buffer) => {
        errText += d.toString()
      })
      const exited = new Promise<number | null>(resolve => {
        pair.on('exit', resolve)
      })
      const port = await new Promise<number>((resolve, reject) => {
        pair.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /PORT (\d+)/.exec(out)
          if (m !== null) resolve(Number(m[1]))
        })
        void exited.then(code => {
          reject(new Error(`tls-pair exited ${String(code)}: ${errText}`))
        })
      })
      const rec = await record(port, capture)
      try {
        pair.stdin.write('go\n')
        expect(await exited).toBe(0)
      } finally {
        await rec.stop()
      }
      expect(out).toMatch(/RTT \d+/)
      const protos = parsePdml(await tshark(capture, keylog, ['-T', 'pdml']))
      const ts = fromTshark(protos)
      const dec = fromDecode(await decode(capture, keylog, join(dir, 'tls.jsonl')))
      // multistream up to /tls/1.0.0 is ours, as in switchyard decode (which stops there)
      expect(ts.connectionMultistream).toEqual(dec.connectionMultistream)
      expect(ts.connectionMultistream.out).toEqual(['/multistream/1.0.0', '/tls/1.0.0'])
      // then the decrypted TLS application data came back: yamux frames both ways, the streams inside
      expect(ts.yamux.out.length).toBeGreaterThan(2)
      expect(ts.yamux.in.length).toBeGreaterThan(2)
      expect(ts.protocols).toEqual(
        expect.arrayContaining([expect.stringContaining(PING_CODEC), expect.stringContaining(IDENTIFY_CODEC)])
      )
      expect(protos.some(p => p.fields.some(f => f.name === 'libp2p.ping.payload'))).toBe(true)
      const agents = protos.flatMap(p => p.fields.filter(f => f.name === 'identify.agent_version').map(f => f.show))
      expect(agents.some(a => a.includes('js-libp2p'))).toBe(true)
    },
    60_000
  )

  it('a committed capture (the tutorial over yamux): the same view, the known peers and messages', async () => {
    const capture = join(dir, 'fixture.pcapng')
    const keylog = join(dir, 'fixture.keys')
    copyFileSync(join(FIXTURES, 'tutorial-yamux.pcapng'), capture)
    copyFileSync(join(FIXTURES, 'tutorial-yamux.keys'), keylog)
    const { ts, dec, protos } = await both('fixture', capture, keylog)
    expect(ts).toEqual(dec)
    expect(ts.handshake).toEqual([
      '1 out 32 -',
      '2 in 230 12D3KooWEw3mSStZsNZLd4DfPc6AHcYTtTvdjKnYuP9KhFpsFKSz',
      '3 out 198 12D3KooWCm2GGnSktXwLHnrqX3Y2Y68cPVkHwi8cWZdZq5ND4QWK'
    ])
    expect(ts.protocols).toEqual([
      'client 1 /ipfs/id/1.0.0',
      `client 3 ${STREAM_PROTO_CODEC}`,
      'server 2 /ipfs/id/1.0.0'
    ])
    expect(texts(protos)).toEqual(['please send data', ...PARTS])
    const early = protos.flatMap(p => p.fields.filter(f => f.name === 'noise.early_muxer').map(f => f.show))
    expect(early).toEqual(['/yamux/1.0.0'])
    // both identity signatures over the Noise static keys check out (Ed25519, through libgcrypt)
    const verified = protos.flatMap(p =>
      p.fields.filter(f => f.name === 'noise.payload.signature_verified').map(f => f.show)
    )
    expect(verified).toEqual(['1', '1'])
  }, 60_000)

  for (const [impl, agent] of [['go', 'go-libp2p'], ['rust', 'rust-libp2p']] as const) {
    it(
      `a committed capture of switchyard ↔ ${agent} (the interop peer): tutorial and identify, the same view as decode`,
      async () => {
        const capture = join(dir, `sw-${impl}.pcapng`)
        const keylog = join(dir, `sw-${impl}.keys`)
        copyFileSync(join(FIXTURES, `sw-${impl}.pcapng`), capture)
        copyFileSync(join(FIXTURES, `sw-${impl}.keys`), keylog)
        const { ts, dec, protos } = await both(`sw-${impl}`, capture, keylog)
        expect(ts.handshake.length).toBe(6) // two connections, one after the other
        expect(ts).toEqual(dec)
        expect(texts(protos)).toEqual(expect.arrayContaining(['please send data', ...PARTS]))
        const agents = protos.flatMap(p => p.fields.filter(f => f.name === 'identify.agent_version').map(f => f.show))
        expect(agents.some(a => a.includes(agent))).toBe(true)
        // the signed peer record inside identify, decoded: the listener's own peer id
        const listener = ts.handshake[1]?.split(' ')[3]
        const recordPeers = protos.flatMap(p =>
          p.fields.filter(f => f.name === 'identify.signed_peer_record.peer_id').map(f => f.show)
        )
        if (impl === 'go') expect(recordPeers).toContain(listener)
        const verified = protos.flatMap(p =>
          p.fields.filter(f => f.name === 'noise.payload.signature_verified').map(f => f.show)
        )
        expect(verified).toEqual(['1', '1', '1', '1']) // two connections (stream, identify), two signatures each
      },
      60_000
    )
  }

  it(
    'without the key log: multistream and the handshake only, every transport message left encrypted, as decode does',
    async () => {
      const capture = join(dir, 'nokeys.pcapng')
      copyFileSync(join(FIXTURES, 'tutorial-yamux.pcapng'), capture)
      const { ts, dec, protos } = await both('nokeys', capture, undefined)
      expect(ts.handshake).toEqual(['1 out 32 -', '2 in 230 -', '3 out 198 -'])
      expect(ts.yamux).toEqual({ out: [], in: [] })
      expect(ts.messages).toEqual({})
      expect(ts.connectionMultistream).toEqual(dec.connectionMultistream)
      expect(ts.handshake).toEqual(dec.handshake)
      expect(protos.some(p => p.fields.some(f => f.name === 'libp2p.note' && f.show.includes('no keys')))).toBe(true)
      expect(protos.filter(p => p.fields.some(f => f.name === 'noise.decrypted' && f.show === '0')).length)
        .toBeGreaterThan(0)
    },
    60_000
  )
})
