import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { echo, echoHandler } from '../../src/protocols/echo.js'
import { ECHO_CODEC } from '../../src/protocols/constants.js'
import { StreamResetError } from '../../src/errors.js'
import { streamPair, wireBytes } from '../helpers/stream-pair.js'
import { testContext } from './context.js'

describe('/switchyard/echo/1.0.0', () => {
  it('echoes every byte, then both sides FIN', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const data = new Uint8Array(1000).map((_, i) => i * 7)
    const [, got] = await Promise.all([echoHandler(server, ECHO_CODEC, ctx), echo(client, data)])
    expect(got).toEqual(data)
    expect(wireBytes(wire.serverToClient)).toEqual(data)
    expect(wire.serverToClient.at(-1)).toEqual({ type: 'fin' })
    expect(client.fullyClosed && server.fullyClosed).toBe(true)
  })

  it('echoes nothing for nothing', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    const [, got] = await Promise.all([echoHandler(server, ECHO_CODEC, ctx), echo(client, new Uint8Array(0))])
    expect(got.length).toBe(0)
  })

  it('does not deadlock when the data is far larger than the window', async () => {
    const { client, server } = streamPair({ windowBytes: 4096 })
    const { ctx } = testContext()
    const data = new Uint8Array(300_000)
    for (let i = 0; i < data.length; i++) data[i] = i % 251
    const [, got] = await Promise.all([echoHandler(server, ECHO_CODEC, ctx), echo(client, data)])
    expect(Buffer.from(got).equals(data)).toBe(true) // (toEqual walks 300k elements slowly)
  })

  it('any data, any window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 1, max: 3000 }),
        async (data, windowBytes) => {
          const { client, server } = streamPair({ windowBytes })
          const { ctx } = testContext()
          const [, got] = await Promise.all([echoHandler(server, ECHO_CODEC, ctx), echo(client, data)])
          expect(got).toEqual(data)
        }
      ),
      { numRuns: 50 }
    )
  })

  it('a reset from the client ends the handler with StreamResetError', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    const handling = echoHandler(server, ECHO_CODEC, ctx)
    await client.write(Uint8Array.of(1, 2, 3))
    client.reset()
    await expect(handling).rejects.toBeInstanceOf(StreamResetError)
  })
})
