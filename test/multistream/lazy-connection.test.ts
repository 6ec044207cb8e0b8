import { waitFor } from '../helpers/wait.js'
import { describe, expect, it } from 'vitest'
import { MultistreamError, ProtocolNotSupportedError } from '../../src/errors.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { handleOnConnection } from '../../src/multistream/negotiate.js'
import { selectOnConnectionLazy } from '../../src/multistream/lazy-connection.js'
import type { ByteConnection } from '../../src/connection.js'
import { connectionPair, text, utf8 } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const msgs = (...m: string[]): Uint8Array => concat(m.map(encodeMessage))

function recorder (conn: ByteConnection): { data: Uint8Array[], closed: Promise<Error | undefined> } {
  const data: Uint8Array[] = []
  let resolveClose!: (e: Error | undefined) => void
  const closed = new Promise<Error | undefined>(resolve => { resolveClose = resolve })
  conn.attach({ onData: c => data.push(c), onEnd: () => {}, onClose: e => resolveClose(e) })
  return { data, closed }
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise(resolve => setImmediate(resolve))
  expect(cond()).toBe(true)
}

describe('selectOnConnectionLazy', () => {
  it('header + proposal + the first write of the next layer go out as ONE batch', async () => {
    const [d, l] = connectionPair()
    const { protocol, connection } = selectOnConnectionLazy(d, '/noise')
    expect(protocol).toBe('/noise')
    expect(d.writes).toHaveLength(0)
    const msg1 = new Uint8Array(34).fill(1)
    connection.write([msg1])
    expect(d.writes).toHaveLength(1)
    expect(hex(concat(d.writes[0] as Uint8Array[]))).toBe(hex(concat([msgs('/multistream/1.0.0', '/noise'), msg1])))
    // The listener sees the pipelined message 1 as leftover (digest TL;DR 2).
    const res = await handleOnConnection(l, ['/noise'])
    expect(hex(concat(res.leftover))).toBe(hex(msg1))
  })

  it('once the proposal is out, write is the underlying connection\'s own (nothing of the selection left on it)', async () => {
    for (const flushAlone of [false, true]) {
      const [d, l] = connectionPair()
      const lazyWrite = selectOnConnectionLazy(d, '/p').connection
      const before = lazyWrite.write
      if (flushAlone) {
        // The next layer reads first: the proposal is flushed alone on the next macrotask.
        recorder(lazyWrite)
        await until(() => d.writes.length === 1)
      } else {
        lazyWrite.write([utf8('first')])
      }
      expect(lazyWrite.write).not.toBe(before)
      const batch = [utf8('second')]
      lazyWrite.write(batch)
      expect(d.writes.at(-1)).toEqual(batch)
      expect(d.writes).toHaveLength(2)
      void handleOnConnection(l, ['/p']).catch(() => {})
    }
  })

  it('the next layer sees only what follows the echo, then everything else directly', async () => {
    const [d, l] = connectionPair()
    const { connection } = selectOnConnectionLazy(d, '/noise')
    const rec = recorder(connection)
    connection.write([utf8('msg1')])
    const res = await handleOnConnection(l, ['/noise'])
    expect(text(concat(res.leftover))).toBe('msg1')
    l.write([utf8('msg2')])
    l.write([utf8(' more')])
    await until(() => text(concat(rec.data)) === 'msg2 more')
  })

  it('echo and first bytes in one chunk, before the next layer attached', async () => {
    const [d, l] = connectionPair()
    const { connection } = selectOnConnectionLazy(d, '/p')
    l.write([msgs('/multistream/1.0.0', '/p'), utf8('early')])
    // Wait until the chunk has reached the dialer's connection, with nothing attached above it.
    await until(() => d.arrived > 0)
    const rec = recorder(connection)
    await until(() => text(concat(rec.data)) === 'early')
  })

  it('flushes the proposal alone when the next layer reads first', async () => {
    const [d, l] = connectionPair()
    const { connection } = selectOnConnectionLazy(d, '/server-speaks-first')
    const rec = recorder(connection)
    const res = await handleOnConnection(l, ['/server-speaks-first'])
    expect(res.leftover).toEqual([])
    expect(d.writes).toHaveLength(1)
    l.write([utf8('banner')])
    await until(() => text(concat(rec.data)) === 'banner')
  })

  it('a refusal closes the next layer with ProtocolNotSupportedError and aborts the connection', async () => {
    const [d, l] = connectionPair()
    const { connection } = selectOnConnectionLazy(d, '/nope')
    const rec = recorder(connection)
    connection.write([utf8('x')])
    void handleOnConnection(l, ['/other']).catch(() => {})
    const err = await rec.closed
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect(d.closed).toBe(true)
  })

  it('a malformed answer, EOF and silence end it with typed errors', async () => {
    {
      const [d, l] = connectionPair()
      const { connection } = selectOnConnectionLazy(d, '/p')
      const rec = recorder(connection)
      l.write([msgs('/multistream/2.0.0')])
      expect(await rec.closed).toBeInstanceOf(MultistreamError)
    }
    {
      const [d, l] = connectionPair()
      const { connection } = selectOnConnectionLazy(d, '/p')
      const rec = recorder(connection)
      l.closeWrite()
      expect(((await rec.closed) as MultistreamError).code).toBe('ERR_UNEXPECTED_EOF')
    }
    {
      const [d] = connectionPair()
      const { connection } = selectOnConnectionLazy(d, '/p', { timeoutMs: 20 })
      await waitFor('the negotiation timeout', () => d.closed) // it fired and aborted the connection
      const rec = recorder(connection) // attached after the failure: still told
      expect(((await rec.closed) as MultistreamError).code).toBe('ERR_NEGOTIATION_TIMEOUT')
    }
  })
})
