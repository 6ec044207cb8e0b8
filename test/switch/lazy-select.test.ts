import { describe, expect, it } from 'vitest'
import type { ByteSink } from '../../src/connection.js'
import { MultistreamError, ProtocolNotSupportedError } from '../../src/errors.js'
import { handleOnConnection } from '../../src/multistream/negotiate.js'
import { encodeMessage, HEADER_MESSAGE } from '../../src/multistream/messages.js'
import { LazySelectConnection } from '../../src/switch/lazy-select.js'
import { concat, connectionPair, text, utf8 } from '../multistream/helpers.js'

/** A sink that records what it gets. */
function recorder (): ByteSink & { data: Uint8Array[], ended: boolean, closed: Array<Error | undefined>, done: Promise<void> } {
  let resolve!: () => void
  const done = new Promise<void>(r => { resolve = r })
  const r = {
    data: [] as Uint8Array[],
    ended: false,
    closed: [] as Array<Error | undefined>,
    done,
    onData: (c: Uint8Array) => { r.data.push(c); resolve() },
    onEnd: () => { r.ended = true; resolve() },
    onClose: (err?: Error) => { r.closed.push(err); resolve() }
  }
  return r
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('LazySelectConnection', () => {
  it('sends header + proposal + the first write as ONE batch, without waiting for the echo', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/noise')
    lazy.write([utf8('msg1')])
    expect(d.writes).toHaveLength(1)
    expect(concat(d.writes[0] as Uint8Array[])).toEqual(concat([HEADER_MESSAGE, encodeMessage('/noise'), utf8('msg1')]))

    // The listener sees the proposal and, as leftover, the first bytes of the protocol.
    const res = await handleOnConnection(l, ['/noise'])
    expect(res.protocol).toBe('/noise')
    expect(text(concat(res.leftover))).toBe('msg1')
  })

  it('hands the bytes after the echo to the sink, byte-exact, and nothing of the negotiation', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/noise')
    const sink = recorder()
    lazy.attach(sink)
    lazy.write([utf8('hello')])
    await handleOnConnection(l, ['/noise'])
    l.write([utf8('msg2')])
    await sink.done
    expect(text(concat(sink.data))).toBe('msg2')
    expect(lazy.selected).toBe(true)
  })

  it('delivers the echo and the following bytes even when they arrive in one chunk with the header', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/p')
    const sink = recorder()
    lazy.attach(sink)
    l.write([HEADER_MESSAGE, encodeMessage('/p'), utf8('abc')])
    await sink.done
    expect(text(concat(sink.data))).toBe('abc')
  })

  it('flushes the first flight alone when nothing is written this turn (a listener waits for it)', async () => {
    const [d] = connectionPair()
    const lazy = new LazySelectConnection(d, '/yamux/1.0.0')
    expect(d.writes).toHaveLength(0)
    await tick()
    expect(d.writes).toHaveLength(1)
    expect(concat(d.writes[0] as Uint8Array[])).toEqual(concat([HEADER_MESSAGE, encodeMessage('/yamux/1.0.0')]))
    lazy.write([utf8('x')])
    expect(concat(d.writes[1] as Uint8Array[])).toEqual(utf8('x'))
  })

  it('holds the bytes after the echo while no sink is attached, then delivers them in order', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/p')
    const first = recorder()
    lazy.attach(first)
    lazy.detach()
    l.write([HEADER_MESSAGE, encodeMessage('/p'), utf8('one')])
    l.write([utf8('two')])
    await tick(); await tick()
    expect(first.data).toHaveLength(0)
    const sink = recorder()
    lazy.attach(sink)
    await tick()
    expect(text(concat(sink.data))).toBe('onetwo')
  })

  it('aborts the connection with ProtocolNotSupportedError when the listener refuses', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/noise')
    const sink = recorder()
    lazy.attach(sink)
    lazy.write([utf8('x')])
    await expect(handleOnConnection(l, ['/tls/1.0.0'])).rejects.toThrow()
    await sink.done
    expect(sink.data).toHaveLength(0)
    expect(sink.closed[0]).toBeInstanceOf(ProtocolNotSupportedError)
    expect(d.closed).toBe(true)
  })

  it('aborts with a MultistreamError on garbage instead of a header', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/noise')
    const sink = recorder()
    lazy.attach(sink)
    l.write([utf8('\x05hello')])
    await sink.done
    expect(sink.closed[0]).toBeInstanceOf(MultistreamError)
  })

  it('reports a clean EOF before the echo as a negotiation error', async () => {
    const [d, l] = connectionPair()
    const lazy = new LazySelectConnection(d, '/noise')
    const sink = recorder()
    lazy.attach(sink)
    l.closeWrite()
    await sink.done
    expect(sink.ended).toBe(false)
    expect(sink.closed[0]).toBeInstanceOf(MultistreamError)
    expect((sink.closed[0] as MultistreamError).code).toBe('ERR_UNEXPECTED_EOF')
  })
})
