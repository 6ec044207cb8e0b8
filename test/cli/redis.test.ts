/**
 * The RESP2 codec of src/cli/redis.ts (redis.io protocol spec: "RESP protocol description"):
 * vectors, then the properties every decoder here has — round trip, truncation at every offset,
 * a split at every byte, garbage → typed error or "need more" — and the client against a fake
 * server on a real socket (the real redis-server is in test/cli/test-plans.test.ts).
 */
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import {
  decodeReply,
  encodeCommand,
  parseRedisAddr,
  RedisClient,
  RedisError,
  REDIS_LIMITS
} from '../../src/cli/redis.js'
import type { RedisReply } from '../../src/cli/redis.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** A reference encoder for replies (the server side of RESP2). */
function encodeReply (r: RedisReply): string {
  if (r === null) return '$-1\r\n'
  if (typeof r === 'number') return `:${r}\r\n`
  if (typeof r === 'string') return `$${bytes(r).length}\r\n${r}\r\n`
  return `*${r.length}\r\n${r.map(encodeReply).join('')}`
}

const reply: fc.Arbitrary<RedisReply> = fc.letrec<{ r: RedisReply }>(tie => ({
  r: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.integer({ min: -1e12, max: 1e12 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.array(tie('r'), { maxLength: 4 })
  )
})).r.filter(r => depth(r) <= REDIS_LIMITS.maxDepth)

function depth (r: RedisReply): number {
  return Array.isArray(r) ? 1 + Math.max(0, ...r.map(depth)) : 0
}

describe('RESP2 commands and replies', () => {
  it('encodes a command as an array of bulk strings', () => {
    expect(text(encodeCommand(['RPUSH', 'listenerAddr', '/ip4/1.2.3.4/tcp/1/p2p/x']))).toBe(
      '*3\r\n$5\r\nRPUSH\r\n$12\r\nlistenerAddr\r\n$24\r\n/ip4/1.2.3.4/tcp/1/p2p/x\r\n')
    expect(text(encodeCommand(['PING']))).toBe('*1\r\n$4\r\nPING\r\n')
    // The length counts bytes, not characters.
    expect(text(encodeCommand(['é']))).toBe('*1\r\n$2\r\né\r\n')
  })

  it.each<[string, RedisReply, number]>([
    ['+PONG\r\n', 'PONG', 7],
    [':3\r\n', 3, 4],
    [':-12\r\n', -12, 6],
    ['$5\r\nhello\r\n', 'hello', 11],
    ['$0\r\n\r\n', '', 6],
    ['$-1\r\n', null, 5],
    ['*-1\r\n', null, 5],
    ['*0\r\n', [], 4],
    ['*2\r\n$12\r\nlistenerAddr\r\n$3\r\n/ma\r\n', ['listenerAddr', '/ma'], 32],
    ['*2\r\n:1\r\n*1\r\n+x\r\n', [1, ['x']], 16]
  ])('decodes %j', (wire, value, used) => {
    expect(decodeReply(bytes(wire))).toEqual([value, used])
    expect(decodeReply(bytes(wire + '+next\r\n'))).toEqual([value, used])
  })

  it('decodes an error reply as a RedisError value (ERR_REDIS_REPLY)', () => {
    const [err, used] = decodeReply(bytes('-WRONGTYPE Operation against a key\r\n')) ?? []
    expect(err).toBeInstanceOf(RedisError)
    expect(err).toMatchObject({
      code: 'ERR_REDIS_REPLY',
      message: 'Redis error reply: WRONGTYPE Operation against a key'
    })
    expect(used).toBe(36)
  })

  it.each([
    ['?x\r\n', /unknown type byte 0x3f/],
    ['+ok\rx', /CR without LF/],
    [':1.5\r\n', /not an integer/],
    [':99999999999999999\r\n', /not an integer/],
    ['$-2\r\n', /bulk string length/],
    [`$${REDIS_LIMITS.maxBulkBytes + 1}\r\n`, /bulk string length/],
    ['$3\r\nabcd\r\n', /not followed by CRLF/],
    [`*${REDIS_LIMITS.maxArrayLength + 1}\r\n`, /array length/],
    ['*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n', /nested deeper/],
    ['$2\r\n\xff\xfe\r\n', /UTF-8/]
  ])('rejects %j with ERR_REDIS_PROTOCOL', (wire, message) => {
    const buf = wire.includes('\xff') ? Uint8Array.from([...wire].map(c => c.charCodeAt(0))) : bytes(wire)
    let caught: unknown
    try { decodeReply(buf) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(RedisError)
    expect(caught).toMatchObject({ code: 'ERR_REDIS_PROTOCOL', message: expect.stringMatching(message) })
  })

  it('rejects an over-long line before its end arrives', () => {
    const long = bytes('+' + 'a'.repeat(REDIS_LIMITS.maxLineBytes + 2))
    expect(() => decodeReply(long)).toThrowError(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }))
  })

  it('property: round trip through the reference encoder', () => {
    fc.assert(fc.property(reply, (r) => {
      const wire = bytes(encodeReply(r))
      expect(decodeReply(wire)).toEqual([r, wire.length])
    }))
  })

  it('property: every truncation needs more bytes', () => {
    fc.assert(fc.property(reply, (r) => {
      const wire = bytes(encodeReply(r))
      for (let n = 0; n < wire.length; n++) expect(decodeReply(wire.subarray(0, n))).toBeUndefined()
    }))
  })

  it('property: the client reassembles a reply split at every byte', async () => {
    await fc.assert(fc.asyncProperty(reply, fc.integer({ min: 1, max: 1000 }), async (r, seed) => {
      const wire = bytes(encodeReply(r))
      const cut = 1 + (seed % Math.max(1, wire.length - 1))
      const server = await fakeServer(async (socket) => {
        socket.write(wire.subarray(0, cut))
        await new Promise(resolve => setTimeout(resolve, 1))
        socket.write(wire.subarray(cut))
      })
      const client = await RedisClient.connect(server.addr)
      try {
        expect(await client.command('GET', 'x')).toEqual(r)
      } finally {
        client.close()
        await server.close()
      }
    }), { numRuns: 30 })
  })

  it('property: garbage is a typed error or "need more", never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (buf) => {
      try {
        const r = decodeReply(buf)
        if (r !== undefined) expect(r[1]).toBeLessThanOrEqual(buf.length)
      } catch (err) {
        expect(err).toBeInstanceOf(RedisError)
        expect((err as RedisError).code).toBe('ERR_REDIS_PROTOCOL')
      }
    }))
  })

  it.each([
    ['redis:6379', { host: 'redis', port: 6379 }],
    ['127.0.0.1:1', { host: '127.0.0.1', port: 1 }],
    ['[::1]:6380', { host: '::1', port: 6380 }]
  ])('parses the redis_addr %s', (addr, want) => {
    expect(parseRedisAddr(addr)).toEqual(want)
  })

  it.each(['redis', 'redis:', ':6379', 'redis:0', 'redis:65536', '::1:6379'])('rejects the redis_addr %j', (addr) => {
    expect(() => parseRedisAddr(addr)).toThrowError(RedisError)
  })
})

describe('RedisClient over a socket', () => {
  let server: { addr: string, close: () => Promise<void> } | undefined
  afterEach(async () => { await server?.close(); server = undefined })

  it('runs commands in order and passes error replies on as ERR_REDIS_REPLY', async () => {
    const seen: string[] = []
    server = await fakeServer((socket) => {
      let buffered = ''
      socket.on('data', (b: Buffer) => {
        buffered += b.toString()
        // Each command here is one array of bulk strings; answer once a whole one is in.
        for (;;) {
          const m = /^\*(\d+)\r\n((?:\$\d+\r\n[^\r]*\r\n)*)/.exec(buffered)
          if (m === null) return
          const parts = [...(m[2] as string).matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map(x => x[1] as string)
          if (parts.length < Number(m[1])) return
          buffered = buffered.slice(m[0].length)
          seen.push(parts.join(' '))
          socket.write(parts[0] === 'BAD' ? '-ERR unknown command\r\n' : `:${seen.length}\r\n`)
        }
      })
    })
    const client = await RedisClient.connect(server.addr)
    try {
      const [a, b] = await Promise.all([client.command('RPUSH', 'k', 'v1'), client.command('RPUSH', 'k', 'v2')])
      expect([a, b]).toEqual([1, 2])
      await expect(client.command('BAD')).rejects.toMatchObject({
        code: 'ERR_REDIS_REPLY',
        message: 'Redis error reply: ERR unknown command'
      })
      expect(await client.command('LLEN', 'k')).toBe(4)
      expect(seen).toEqual(['RPUSH k v1', 'RPUSH k v2', 'BAD', 'LLEN k'])
    } finally {
      client.close()
    }
  })

  it('fails a command in flight when the server closes, and every later one', async () => {
    server = await fakeServer((socket) => { socket.once('data', () => { socket.end() }) })
    const client = await RedisClient.connect(server.addr)
    try {
      await expect(client.command('BLPOP', 'listenerAddr', '5')).rejects.toMatchObject({
        code: 'ERR_REDIS_REPLY',
        message: 'Redis closed the connection'
      })
      await expect(client.command('PING')).rejects.toMatchObject({ code: 'ERR_REDIS_REPLY' })
    } finally {
      client.close()
    }
  })

  it('fails on a malformed reply (ERR_REDIS_PROTOCOL) and closes', async () => {
    server = await fakeServer((socket) => { socket.once('data', () => { socket.write('!oops\r\n') }) })
    const client = await RedisClient.connect(server.addr)
    try {
      await expect(client.command('PING')).rejects.toMatchObject({ code: 'ERR_REDIS_PROTOCOL' })
    } finally {
      client.close()
    }
  })

  it('names the address when it cannot connect', async () => {
    const closed = await fakeServer(() => {})
    const addr = closed.addr
    await closed.close()
    await expect(RedisClient.connect(addr)).rejects.toMatchObject({
      code: 'ERR_REDIS_REPLY',
      message: expect.stringContaining(`connecting to Redis at ${addr}`)
    })
  })
})

/** A TCP server on loopback running `onConnection` for each client. */
async function fakeServer (
  onConnection: (socket: Socket) => void | Promise<void>
): Promise<{ addr: string, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const srv: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    void onConnection(socket)
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as AddressInfo).port
  return {
    addr: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => srv.close(() => { resolve() }))
    }
  }
}
