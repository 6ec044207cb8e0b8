import { describe, expect, it } from 'vitest'
import { MuxedStream } from '../../src/muxer/stream.js'
import type { StreamTransport } from '../../src/muxer/stream.js'
import { CodecError, EndOfStreamError, StreamClosedError, StreamResetError } from '../../src/errors.js'
import { encodeLp } from '../../src/codec/length-prefixed.js'

/** A transport that records calls and accepts at most `credit` bytes. */
class FakeTransport implements StreamTransport {
  sent: Uint8Array[] = []
  fins = 0
  resets = 0
  consumed = 0
  readClosed = 0
  constructor (public credit = Infinity) {}
  trySend = (data: Uint8Array): number => {
    const n = Math.min(this.credit, data.length)
    this.credit -= n
    if (n > 0) this.sent.push(data.subarray(0, n))
    return n
  }

  sendFin = (): void => { this.fins++ }
  sendReset = (): void => { this.resets++ }
  onConsumed = (n: number): void => { this.consumed += n }
  onReadClosed = (): void => { this.readClosed++ }
  get sentBytes (): Uint8Array { return Buffer.concat(this.sent) }
}

function make (credit = Infinity): { s: MuxedStream, t: FakeTransport } {
  const t = new FakeTransport(credit)
  return { s: new MuxedStream({ id: 1, direction: 'outbound', transport: t }), t }
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)
const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('MuxedStream reading', () => {
  it('read returns buffered chunks whole, in order, then null after FIN', async () => {
    const { s, t } = make()
    s.pushData(bytes(1, 2))
    s.pushData(bytes(3))
    s.pushEnd()
    expect(await s.read()).toEqual(bytes(1, 2))
    expect(await s.read()).toEqual(bytes(3))
    expect(await s.read()).toBeNull()
    expect(await s.read()).toBeNull()
    expect(t.consumed).toBe(3)
  })

  it('a pending read wakes on data and on FIN', async () => {
    const { s } = make()
    const p = s.read()
    s.pushData(bytes(9))
    expect(await p).toEqual(bytes(9))
    const q = s.read()
    s.pushEnd()
    expect(await q).toBeNull()
  })

  it('readExactly spans chunks and rejects with EndOfStreamError when the stream ends first', async () => {
    const { s } = make()
    const p = s.readExactly(4)
    s.pushData(bytes(1, 2))
    s.pushData(bytes(3, 4, 5))
    expect(await p).toEqual(bytes(1, 2, 3, 4))
    s.pushEnd()
    await expect(s.readExactly(2)).rejects.toBeInstanceOf(EndOfStreamError)
    // the byte that was there is still readable
    expect(await s.readExactly(1)).toEqual(bytes(5))
  })

  it('readLp parses prefix and body split at every byte boundary', async () => {
    const msg = new Uint8Array(300).map((_, i) => i & 0xff)
    const wire = new Uint8Array(Buffer.concat([encodeLp(msg), encodeLp(bytes()), encodeLp(bytes(7))]))
    for (let cut = 0; cut <= wire.length; cut++) {
      const { s, t } = make()
      s.pushData(wire.subarray(0, cut))
      const p = s.readLp(1024)
      s.pushData(wire.subarray(cut))
      expect(await p).toEqual(msg)
      expect(await s.readLp(1024)).toEqual(bytes())
      expect(await s.readLp(1024)).toEqual(bytes(7))
      s.pushEnd()
      await expect(s.readLp(1024)).rejects.toBeInstanceOf(EndOfStreamError)
      expect(t.consumed).toBe(wire.length)
    }
  })

  it('readLp rejects an oversize prefix before the body arrives', async () => {
    const { s } = make()
    s.pushData(bytes(0x80, 0x08)) // 1024
    await expect(s.readLp(1023)).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
  })

  it('readLp rejects a non-minimal prefix with a typed error', async () => {
    const { s } = make()
    s.pushData(bytes(0x81, 0x00))
    await expect(s.readLp(10)).rejects.toMatchObject({ code: 'ERR_VARINT_NOT_MINIMAL' })
  })

  it('readLp: EOF inside a message is ERR_UNEXPECTED_EOF, not a clean end', async () => {
    const { s } = make()
    s.pushData(bytes(5, 1, 2))
    s.pushEnd()
    const err = await s.readLp(10).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodecError)
    expect(err).toMatchObject({ code: 'ERR_UNEXPECTED_EOF' })
    const { s: s2 } = make()
    s2.pushData(bytes(0x80))
    s2.pushEnd()
    await expect(s2.readLp(1000)).rejects.toMatchObject({ code: 'ERR_UNEXPECTED_EOF' })
  })

  it('read after readExactly keeps order (set-aside chunks are merged back)', async () => {
    const { s } = make()
    s.pushData(bytes(1, 2, 3))
    s.pushData(bytes(4, 5))
    s.pushData(bytes(6))
    expect(await s.read()).toEqual(bytes(1, 2, 3))
    expect(await s.readExactly(3)).toEqual(bytes(4, 5, 6))
    s.pushData(bytes(7))
    expect(await s.read()).toEqual(bytes(7))
  })

  it('unread puts bytes in front and does not credit them twice', async () => {
    const { s, t } = make()
    s.pushData(bytes(1, 2, 3, 4))
    const first = await s.readExactly(4)
    expect(t.consumed).toBe(4)
    s.unread(first.subarray(2))
    s.pushData(bytes(5))
    expect(await s.readExactly(3)).toEqual(bytes(3, 4, 5))
    expect(t.consumed).toBe(5)
  })

  it('async iteration yields every chunk until FIN', async () => {
    const { s } = make()
    s.pushData(bytes(1))
    s.pushData(bytes(2))
    setTimeout(() => { s.pushData(bytes(3)); s.pushEnd() }, 1)
    const got: number[] = []
    for await (const c of s) got.push(...c)
    expect(got).toEqual([1, 2, 3])
  })

  it('concurrent readers all wake', async () => {
    const { s } = make()
    const a = s.read()
    const b = s.read()
    s.pushData(bytes(1))
    s.pushData(bytes(2))
    const got = await Promise.all([a, b])
    expect(got.map(c => c?.[0]).sort()).toEqual([1, 2])
  })

  it('a pending read takes its chunk after pushData returns, never inside it (no re-entry into the muxer)', async () => {
    const { s, t } = make()
    const p = s.read()
    s.pushData(bytes(7, 8))
    // pushData only woke the reader: the window credit (onConsumed) comes once the read runs.
    expect(t.consumed).toBe(0)
    expect(s.readableLength).toBe(2)
    expect(await p).toEqual(bytes(7, 8))
    expect(t.consumed).toBe(2)
  })

  it('a pending read woken with nothing to take waits again (one chunk, two readers)', async () => {
    const { s } = make()
    const a = s.read()
    const b = s.read()
    s.pushData(bytes(1))
    const first = await Promise.race([a, b])
    expect(first).toEqual(bytes(1))
    let second: Uint8Array | null | undefined
    void Promise.all([a, b]).then(([x, y]) => { second = x === first ? y : x })
    await tick()
    expect(second).toBeUndefined()
    s.pushData(bytes(2))
    await tick()
    expect(second).toEqual(bytes(2))
  })

  it('a pending read woken by data but reset before it runs rejects with the reset', async () => {
    const { s } = make()
    const p = s.read()
    s.pushData(bytes(1))
    s.pushReset()
    await expect(p).rejects.toBeInstanceOf(StreamResetError)
  })
})

describe('MuxedStream writing', () => {
  it('write resolves at once when the transport takes everything', async () => {
    const { s, t } = make()
    await s.write(bytes(1, 2, 3))
    expect(t.sentBytes).toEqual(Buffer.from([1, 2, 3]))
  })

  it('write waits for notifyWritable and queues later writes in order', async () => {
    const { s, t } = make(2)
    let firstDone = false
    const p1 = s.write(bytes(1, 2, 3, 4)).then(() => { firstDone = true })
    const p2 = s.write(bytes(5, 6))
    await tick()
    expect(firstDone).toBe(false)
    expect(t.sentBytes).toEqual(Buffer.from([1, 2]))
    t.credit = 1
    s.notifyWritable()
    await tick()
    expect(firstDone).toBe(false)
    t.credit = 100
    s.notifyWritable()
    await p1
    await p2
    expect(t.sentBytes).toEqual(Buffer.from([1, 2, 3, 4, 5, 6]))
  })

  it('writeLp frames strings and large bodies', async () => {
    const { s, t } = make()
    await s.writeLp('hi')
    const big = new Uint8Array(20_000).fill(7)
    await s.writeLp(big)
    expect(t.sentBytes).toEqual(Buffer.concat([encodeLp(bytes(0x68, 0x69)), encodeLp(big)]))
  })

  it('closeWrite sends FIN after queued bytes, once; later writes fail with StreamClosedError', async () => {
    const { s, t } = make(1)
    const w = s.write(bytes(1, 2))
    const c = s.closeWrite()
    await tick()
    expect(t.fins).toBe(0)
    t.credit = 10
    s.notifyWritable()
    await w
    await c
    expect(t.fins).toBe(1)
    await s.closeWrite()
    expect(t.fins).toBe(1)
    await expect(s.write(bytes(3))).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('reading continues after closeWrite (half-close)', async () => {
    const { s } = make()
    await s.closeWrite()
    s.pushData(bytes(4))
    expect(await s.read()).toEqual(bytes(4))
  })
})

describe('MuxedStream close/reset matrix', () => {
  it('remote FIN: writes still work; closeWrite then makes it fully closed', async () => {
    const { s, t } = make()
    s.pushEnd()
    await s.write(bytes(1))
    expect(s.fullyClosed).toBe(false)
    await s.closeWrite()
    expect(s.fullyClosed).toBe(true)
    expect(t.fins).toBe(1)
  })

  it('close() sends FIN, discards buffered data (crediting it) and ends reads', async () => {
    const { s, t } = make()
    s.pushData(bytes(1, 2, 3))
    await s.close()
    expect(t.fins).toBe(1)
    expect(t.readClosed).toBe(1)
    expect(t.consumed).toBe(3)
    expect(await s.read()).toBeNull()
    await expect(s.readLp(10)).rejects.toBeInstanceOf(EndOfStreamError)
    s.pushData(bytes(4, 5))
    expect(t.consumed).toBe(5)
    expect(s.readableLength).toBe(0)
    await expect(s.write(bytes(1))).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('a pending read resolves null when the stream is closed locally', async () => {
    const { s } = make()
    const p = s.read()
    await s.close()
    expect(await p).toBeNull()
  })

  it('local reset sends RST once and fails pending reads and writes', async () => {
    const { s, t } = make(0)
    const r = s.read()
    const w = s.write(bytes(1))
    s.reset()
    await expect(r).rejects.toBeInstanceOf(StreamResetError)
    await expect(w).rejects.toBeInstanceOf(StreamResetError)
    s.reset()
    expect(t.resets).toBe(1)
    await expect(s.read()).rejects.toBeInstanceOf(StreamResetError)
    await expect(s.readLp(1)).rejects.toBeInstanceOf(StreamResetError)
    await expect(s.readExactly(1)).rejects.toBeInstanceOf(StreamResetError)
    await expect(s.write(bytes(1))).rejects.toBeInstanceOf(StreamResetError)
    await s.closeWrite()
    await s.close()
    expect(t.fins).toBe(0)
  })

  it('remote reset: typed error with the cause, nothing sent, buffered data dropped', async () => {
    const { s, t } = make()
    s.pushData(bytes(1))
    const cause = new Error('boom')
    s.pushReset(cause)
    const err = await s.read().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StreamResetError)
    expect((err as Error).cause).toBe(cause)
    expect(t.resets).toBe(0)
    s.reset()
    expect(t.resets).toBe(0)
  })

  it('reset after both FINs sends nothing (no frame for a fully closed stream)', async () => {
    const { s, t } = make()
    s.pushEnd()
    await s.closeWrite()
    s.reset()
    expect(t.resets).toBe(0)
  })

  it('reset after local close() but before the remote FIN still sends RST', async () => {
    const { s, t } = make()
    await s.close()
    s.reset()
    expect(t.resets).toBe(1)
  })

  it('reset while a FIN waits behind a blocked write: no FIN is sent', async () => {
    const { s, t } = make(0)
    const w = s.write(bytes(1)).catch(() => {})
    const c = s.closeWrite()
    s.reset()
    await w
    await c
    expect(t.fins).toBe(0)
    expect(t.resets).toBe(1)
  })
})

describe('MuxedStream: a reset raised from inside trySend', () => {
  it('rejects the write instead of parking it forever', async () => {
    let stream: MuxedStream | undefined
    const transport = {
      trySend: (_data: Uint8Array): number => { stream?.pushReset(); return 0 },
      sendFin: () => {},
      sendReset: () => {},
      onConsumed: () => {}
    }
    stream = new MuxedStream({ id: 1, direction: 'outbound', transport })
    await expect(stream.write(Uint8Array.of(1, 2, 3))).rejects.toBeInstanceOf(StreamResetError)
  })
})
