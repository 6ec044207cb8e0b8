/**
 * What the js-libp2p switch tests share, whatever the security protocol: the js node (TCP + yamux +
 * ping + identify, with the stream-proto and echo handlers), payload generators and the 64 MiB echo.
 * js-switch.test.ts runs it with Noise, js-switch-tls.test.ts with TLS.
 */
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping as jsPing } from '@libp2p/ping'
import type { Ping as JsPing } from '@libp2p/ping'
import { identify as jsIdentify } from '@libp2p/identify'
import type { Identify as JsIdentify } from '@libp2p/identify'
import type { PrivateKey as JsPrivateKey, Stream as JsStream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import * as varint from 'uint8-varint'
import type { Stream } from '../../src/index.js'
import { ECHO_CODEC, STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'

export type JsNode = Libp2p<{ ping: JsPing, identify: JsIdentify }>

export const MiB = 1024 * 1024
export const BIG_BYTES = 64 * MiB
export const CHUNK = 64 * 1024
export const STREAMS = 100
export const PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)

// ───────────────────────────── js-libp2p side helpers ─────────────────────────────

/** Reads uvarint-length-prefixed messages from a js-libp2p stream (its async iterator). */
class JsLpReader {
  private readonly source: AsyncIterator<Uint8Array | Uint8ArrayList>
  private readonly buffer = new Uint8ArrayList()

  constructor (stream: JsStream) {
    this.source = stream[Symbol.asyncIterator]()
  }

  /** The next message, or null at a clean end of stream. */
  async read (maxLength: number): Promise<Uint8Array | null> {
    for (;;) {
      const header = this.header()
      if (header !== undefined) {
        const [length, prefix] = header
        if (length > maxLength) throw new Error(`message length ${length} > ${maxLength}`)
        if (this.buffer.byteLength >= prefix + length) {
          const msg = this.buffer.subarray(prefix, prefix + length)
          this.buffer.consume(prefix + length)
          return msg
        }
      }
      const next = await this.source.next()
      if (next.done === true) {
        if (this.buffer.byteLength === 0) return null
        throw new Error(`end of stream inside a message (${this.buffer.byteLength} bytes buffered)`)
      }
      this.buffer.append(next.value)
    }
  }

  /** [length, prefix bytes] once the whole varint is buffered. */
  private header (): [number, number] | undefined {
    let value = 0
    for (let i = 0; i < Math.min(this.buffer.byteLength, 4); i++) {
      const b = this.buffer.get(i)
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return [value, i + 1]
    }
    return undefined
  }
}

export const lp = (text: string): Uint8Array => {
  const body = new TextEncoder().encode(text)
  return Uint8Array.from([...varint.encode(body.length), ...body])
}
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Send with js-libp2p's backpressure: `send` → false means wait for drain. */
export async function jsSend (s: JsStream, data: Uint8Array): Promise<void> {
  if (!s.send(data)) await s.onDrain()
}

export async function jsReadAll (s: JsStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c instanceof Uint8Array ? c : c.subarray())
  return Uint8Array.from(Buffer.concat(parts))
}

/** nim tutorial 3's server, on js-libp2p's stream API. */
export async function jsStreamProtoServer (stream: JsStream, seen: string[]): Promise<void> {
  const msg = await new JsLpReader(stream).read(1024)
  seen.push(msg === null ? '<eof>' : text(msg))
  for (const part of PARTS) await jsSend(stream, lp(part))
  await stream.close()
}

/** nim tutorial 3's client, on js-libp2p's stream API: the parts received until end of stream. */
export async function jsStreamProtoClient (stream: JsStream): Promise<string[]> {
  await jsSend(stream, lp('please send data'))
  const reader = new JsLpReader(stream)
  const parts: string[] = []
  for (;;) {
    const msg = await reader.read(1024)
    if (msg === null) break
    parts.push(text(msg))
  }
  await stream.close()
  return parts
}

export async function jsEchoServer (stream: JsStream): Promise<void> {
  for await (const chunk of stream) await jsSend(stream, chunk instanceof Uint8Array ? chunk : chunk.subarray())
  await stream.close()
}

export async function createJsNode (
  encrypters: NonNullable<Libp2pOptions['connectionEncrypters']>,
  privateKey?: JsPrivateKey
): Promise<{ node: JsNode, streamProtoSeen: string[] }> {
  const node = await createLibp2p({
    ...(privateKey !== undefined ? { privateKey } : {}),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: encrypters,
    streamMuxers: [yamux()],
    services: { ping: jsPing(), identify: jsIdentify() }
  })
  const streamProtoSeen: string[] = []
  await node.handle(STREAM_PROTO_CODEC, async (stream) => { await jsStreamProtoServer(stream, streamProtoSeen) })
  await node.handle(ECHO_CODEC, jsEchoServer, { maxInboundStreams: 2 * STREAMS, maxOutboundStreams: 2 * STREAMS })
  return { node, streamProtoSeen }
}

// ───────────────────────────── payloads ─────────────────────────────

/** Chunk `i` of a deterministic pseudo-random byte sequence (xorshift32, seeded per chunk and stream). */
export function chunkOf (seed: number, i: number, size = CHUNK): Uint8Array {
  const out = new Uint8Array(size)
  const words = new Uint32Array(out.buffer, 0, size >>> 2)
  let x = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0 || 1
  for (let w = 0; w < words.length; w++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[w] = x
  }
  return out
}

/** A distinct payload for stream `i` (sizes vary so frames split differently). */
export const payloadOf = (i: number): Uint8Array => chunkOf(1000 + i, 0, 1024 + i * 331)

export const sha256 = (): ReturnType<typeof createHash> => createHash('sha256')

/** Poll (10 ms) until `f` yields a value, for at most 5 s. */
export async function eventually<T> (what: string, f: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + 5000
  for (;;) {
    const v = await f().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Our client side of the 64 MiB test: write while reading, hash both directions. */
export async function bigEcho (stream: Stream): Promise<{ sent: string, received: string, bytes: number }> {
  const sent = sha256()
  const received = sha256()
  let bytes = 0
  const reading = (async () => {
    for (;;) {
      const c = await stream.read()
      if (c === null) break
      received.update(c)
      bytes += c.length
    }
  })()
  for (let i = 0; i < BIG_BYTES / CHUNK; i++) {
    const c = chunkOf(7, i)
    sent.update(c)
    await stream.write(c)
  }
  await stream.closeWrite()
  await reading
  await stream.close()
  return { sent: sent.digest('hex'), received: received.digest('hex'), bytes }
}
