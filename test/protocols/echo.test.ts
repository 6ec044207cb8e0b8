import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { echo, echoHandler } from '../../src/protocols/echo.js'
import { ECHO_CODEC } from '../../src/protocols/constants.js'
import { StreamResetError } from '../../src/errors.js'
import { streamPair, wireBytes } from '../helpers/stream-pair.js'
import { testContext } from './context.js'
import type { Stream } from '../../src/connection.js'
import { waitFor } from '../helpers/wait.js'

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

describe('echo server memory (issue #15)', () => {
  it('an idle echo stream does not keep the last chunk it echoed', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    let ref: WeakRef<ArrayBuffer> | undefined
    const fail = (): never => { throw new Error('not used by the echo server') }
    // One view of a 64 KiB message, then a read that waits for ever, held by the stream as a muxer
    // holds its pending reads (an unreferenced one would let the whole handler be collected).
    const stream: Stream & { reads: number, pending?: Promise<never> } = {
      id: 1,
      direction: 'inbound',
      protocol: ECHO_CODEC,
      reads: 0,
      async read () {
        if (this.reads++ > 0) return await (this.pending = new Promise<never>(() => {}))
        const message = new ArrayBuffer(64 * 1024)
        ref = new WeakRef(message)
        return new Uint8Array(message, 0, 1)
      },
      write: async () => {},
      readExactly: fail,
      readLp: fail,
      unread: fail,
      writeLp: fail,
      closeWrite: fail,
      close: fail,
      reset: fail,
      [Symbol.asyncIterator]: fail
    }
    void echoHandler(stream, ECHO_CODEC, testContext().ctx)
    await waitFor('the echo server to wait on its second read', () => stream.reads === 2)
    gc()
    expect(ref?.deref()).toBeUndefined()
  })
})
