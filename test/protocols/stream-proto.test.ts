import { describe, expect, it } from 'vitest'
import { streamProtoClient, streamProtoHandler } from '../../src/protocols/stream-proto.js'
import { STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { CodecError, StreamResetError } from '../../src/errors.js'
import { streamPair, wireHex } from '../helpers/stream-pair.js'
import { testContext } from './context.js'

const hexOf = (s: string): string => Buffer.from(s).toString('hex')

describe('/test/stream-proto/1.0.0 (nim-libp2p tutorial 3)', () => {
  it('puts exactly the tutorial bytes on the wire and prints the tutorial lines', async () => {
    const { client, server, wire } = streamPair()
    const { ctx, lines: serverLines } = testContext()
    const clientLines: string[] = []
    const [, parts] = await Promise.all([
      streamProtoHandler(server, STREAM_PROTO_CODEC, ctx),
      streamProtoClient(client, { log: (l) => clientLines.push(l) })
    ])

    // client → 10 ‖ "please send data", then FIN on close
    expect(wireHex(wire.clientToServer)).toBe('10' + hexOf('please send data') + ' FIN')
    // server → 06 ‖ "Part 0" … 06 ‖ "Part 9", 07 ‖ "Part 10", then FIN
    let expected = ''
    for (let i = 0; i <= 9; i++) expected += '06' + hexOf(`Part ${i}`)
    expected += '07' + hexOf('Part 10')
    expect(wireHex(wire.serverToClient)).toBe(expected + ' FIN')

    expect(serverLines).toEqual(['[server] received from client: please send data'])
    const want = Array.from({ length: 11 }, (_, i) => `Part ${i}`)
    expect(parts).toEqual(want)
    expect(clientLines).toEqual(want.map(p => `[client] received from server: ${p}`))
    expect(client.fullyClosed && server.fullyClosed).toBe(true)
  })

  it('the server refuses a request longer than readLp(1024) and resets the stream', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = streamProtoHandler(server, STREAM_PROTO_CODEC, ctx)
    await client.writeLp(new Uint8Array(1025))
    await expect(handling).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    await expect(handling).rejects.toBeInstanceOf(CodecError)
    expect(wireHex(wire.serverToClient)).toBe(' RST')
    await expect(client.read()).rejects.toBeInstanceOf(StreamResetError)
  })

  it('the client stops at the end of stream even when the server sends nothing', async () => {
    const { client, server } = streamPair()
    const serving = (async () => { await server.readLp(1024); await server.close() })()
    expect(await streamProtoClient(client)).toEqual([])
    await serving
  })
})
