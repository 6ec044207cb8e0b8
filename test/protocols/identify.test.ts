import { describe, expect, it } from 'vitest'
import {
  buildIdentify, identify, identifyHandler, identifyPush, identifyPushHandler
} from '../../src/protocols/identify.js'
import { AGENT_VERSION, IDENTIFY_CODEC, IDENTIFY_PUSH_CODEC } from '../../src/protocols/constants.js'
import { ProtocolError } from '../../src/protocols/errors.js'
import { decodeIdentify, encodeIdentify, encodeIdentifyMessages } from '../../src/proto/identify.js'
import { encodeLp } from '../../src/codec/length-prefixed.js'
import { CodecError, StreamResetError } from '../../src/errors.js'
import { streamPair, wireBytes, wireHex } from '../helpers/stream-pair.js'
import { ADDR_IP4, ADDR_IP6, ADDR_OBSERVED, PUBLIC_KEY, testContext } from './context.js'
// js-libp2p's protons codec, to check what we put on the wire parses there too.
import { Identify as JsIdentify } from '../../node_modules/@libp2p/identify/dist/src/pb/message.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('/ipfs/id/1.0.0', () => {
  it('the responder writes one length-prefixed Identify with everything, then FIN; the asker gets it', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const [, got] = await Promise.all([identifyHandler(server, IDENTIFY_CODEC, ctx), identify(client)])

    const expected = {
      protocolVersion: 'ipfs/0.1.0',
      agentVersion: AGENT_VERSION,
      publicKey: PUBLIC_KEY,
      listenAddrs: [ADDR_IP4, ADDR_IP6],
      observedAddr: ADDR_OBSERVED,
      protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']
    }
    expect(got).toEqual(expected)
    // On the wire: uvarint(len) ‖ protobuf, then FIN; the asker sends nothing but its FIN.
    const body = encodeIdentify(expected)
    expect(wireHex(wire.serverToClient)).toBe(hex(encodeLp(body)) + ' FIN')
    expect(wireHex(wire.clientToServer)).toBe(' FIN')
    // js-libp2p parses the same body to the same message.
    expect(JsIdentify.decode(body)).toEqual(expected)
    expect(client.fullyClosed && server.fullyClosed).toBe(true)
  })

  it('omits observedAddr when the switch does not know the remote address', () => {
    const { ctx } = testContext({ remoteAddr: null })
    expect(buildIdentify(ctx).observedAddr).toBeUndefined()
    expect('observedAddr' in buildIdentify(ctx)).toBe(false)
  })

  it('the asker merges several messages: repeated fields append, scalars last-wins', async () => {
    const { client, server } = streamPair()
    const answering = (async () => {
      await server.writeLp(encodeIdentify({ agentVersion: 'first', listenAddrs: [ADDR_IP4], protocols: ['/a'] }))
      await server.writeLp(
        encodeIdentify({ agentVersion: 'second', listenAddrs: [ADDR_IP6], protocols: ['/b'], publicKey: PUBLIC_KEY })
      )
      await server.close()
    })()
    const got = await identify(client)
    await answering
    expect(got).toEqual({
      agentVersion: 'second',
      publicKey: PUBLIC_KEY,
      listenAddrs: [ADDR_IP4, ADDR_IP6],
      protocols: ['/a', '/b']
    })
  })

  it('a response too large for one message is split so that every part is <= 8 KiB and merges back', async () => {
    const protocols = Array.from({ length: 400 }, (_, i) => `/very/long/protocol/name/number/${i}/1.0.0`)
    const { client, server, wire } = streamPair()
    const { ctx } = testContext({ protocols })
    const [, got] = await Promise.all([identifyHandler(server, IDENTIFY_CODEC, ctx), identify(client)])
    expect(got.protocols).toEqual(protocols)
    expect(got.publicKey).toEqual(PUBLIC_KEY)
    const parts = encodeIdentifyMessages(buildIdentify(ctx), 8192)
    expect(parts.length).toBeGreaterThan(1)
    expect(hex(wireBytes(wire.serverToClient))).toBe(parts.map(p => hex(encodeLp(p))).join(''))
  })

  it('accepts 10 messages; an 11th is ProtocolError ERR_TOO_MANY_MESSAGES', async () => {
    for (const n of [10, 11]) {
      const { client, server } = streamPair()
      const answering = (async () => {
        for (let i = 0; i < n; i++) await server.writeLp(encodeIdentify({ listenAddrs: [], protocols: [`/p${i}`] }))
        await server.close()
      })()
      const asking = identify(client)
      if (n === 10) {
        expect((await asking).protocols).toHaveLength(10)
      } else {
        await expect(asking).rejects.toBeInstanceOf(ProtocolError)
        await expect(asking).rejects.toMatchObject({ code: 'ERR_TOO_MANY_MESSAGES' })
      }
      await answering.catch(() => {})
    }
  })

  it('a message over 8 KiB is CodecError ERR_MESSAGE_TOO_LARGE (checked at the prefix) and resets', async () => {
    const { client, server, wire } = streamPair()
    void server.write(Uint8Array.of(0x81, 0x40)) // uvarint 8193, no body
    const asking = identify(client)
    await expect(asking).rejects.toBeInstanceOf(CodecError)
    await expect(asking).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect(wireHex(wire.clientToServer)).toBe(' RST')
  })

  it('a malformed message is CodecError ERR_PROTOBUF_MALFORMED', async () => {
    const { client, server } = streamPair()
    void server.writeLp(Uint8Array.of(0x08, 0x01)).then(async () => { await server.closeWrite() })
    await expect(identify(client)).rejects.toMatchObject({ code: 'ERR_PROTOBUF_MALFORMED' })
  })

  it('a message cut by EOF is CodecError ERR_UNEXPECTED_EOF', async () => {
    const { client, server } = streamPair()
    void server.write(Uint8Array.of(0x05, 0x0a, 0x00)).then(async () => { await server.closeWrite() })
    await expect(identify(client)).rejects.toMatchObject({ code: 'ERR_UNEXPECTED_EOF' })
  })

  it('no message at all before EOF is ProtocolError ERR_PROTOCOL_VIOLATION', async () => {
    const { client, server } = streamPair()
    void server.close()
    await expect(identify(client)).rejects.toMatchObject({ code: 'ERR_PROTOCOL_VIOLATION' })
  })

  it('a silent responder times out with ERR_PROTOCOL_TIMEOUT and the stream is reset', async () => {
    const { client, server } = streamPair()
    await expect(identify(client, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_PROTOCOL_TIMEOUT' })
    await expect(server.read()).rejects.toBeInstanceOf(StreamResetError)
  })

  it('a responder that keeps a message half-sent also times out', async () => {
    const { client, server } = streamPair()
    void server.write(Uint8Array.of(0x10, 0x0a))
    await expect(identify(client, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_PROTOCOL_TIMEOUT' })
  })
})

describe('/ipfs/id/push/1.0.0', () => {
  it('a partial push reaches ctx.onIdentifyPush with only the fields sent', async () => {
    const { client, server, wire } = streamPair()
    const { ctx, pushes } = testContext()
    const update = { listenAddrs: [ADDR_IP6], protocols: [] }
    await Promise.all([identifyPushHandler(server, IDENTIFY_PUSH_CODEC, ctx), identifyPush(client, update)])
    expect(pushes).toEqual([{ listenAddrs: [ADDR_IP6], protocols: [] }])
    expect(wireHex(wire.clientToServer)).toBe(hex(encodeLp(encodeIdentify(update))) + ' FIN')
    expect(decodeIdentify(encodeIdentify(update)).agentVersion).toBeUndefined()
  })

  it('several messages in one push are merged before the callback', async () => {
    const { client, server } = streamPair()
    const { ctx, pushes } = testContext()
    const pushing = (async () => {
      await client.writeLp(encodeIdentify({ protocols: ['/a'], listenAddrs: [] }))
      await client.writeLp(encodeIdentify({ protocols: ['/b'], listenAddrs: [], agentVersion: 'x/1' }))
      await client.close()
    })()
    await Promise.all([identifyPushHandler(server, IDENTIFY_PUSH_CODEC, ctx), pushing])
    expect(pushes).toEqual([{ protocols: ['/a', '/b'], listenAddrs: [], agentVersion: 'x/1' }])
  })

  it('a malformed push does not reach the callback and resets the stream', async () => {
    const { client, server, wire } = streamPair()
    const { ctx, pushes } = testContext()
    const handling = identifyPushHandler(server, IDENTIFY_PUSH_CODEC, ctx)
    await client.writeLp(Uint8Array.of(0x1a, 0x01, 0xff)) // protocols entry with invalid UTF-8
    await client.closeWrite()
    await expect(handling).rejects.toMatchObject({ code: 'ERR_PROTOBUF_MALFORMED' })
    expect(pushes).toEqual([])
    expect(wireHex(wire.serverToClient)).toBe(' RST')
  })
})
