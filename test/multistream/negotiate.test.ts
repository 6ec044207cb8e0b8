import { describe, expect, it } from 'vitest'
import { MultistreamError, ProtocolNotSupportedError, StreamResetError } from '../../src/errors.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import {
  handleOnConnection, handleOnStream, listProtocols, selectOnConnection, selectOnStream
} from '../../src/multistream/negotiate.js'
import { selectOnConnectionLazy } from '../../src/multistream/lazy-connection.js'
import type { ByteSink } from '../../src/connection.js'
import { connectionPair, streamPair, text, utf8 } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const msgs = (...m: string[]): Uint8Array => concat(m.map(encodeMessage))

/** Collect what arrives on a connection after negotiation. */
function collect (conn: { attach: (s: ByteSink) => void }): { data: Uint8Array[], ended: Promise<void> } {
  const data: Uint8Array[] = []
  let done!: () => void
  const ended = new Promise<void>(resolve => { done = resolve })
  conn.attach({ onData: c => data.push(c), onEnd: () => done(), onClose: () => done() })
  return { data, ended }
}

describe('selectOnConnection / handleOnConnection', () => {
  it('agree; the dialer writes header + proposal in ONE write before reading anything', async () => {
    const [d, l] = connectionPair()
    const dialing = selectOnConnection(d, ['/noise'])
    // Synchronously after the call, before any byte came back: one batch holding both messages.
    expect(d.writes).toHaveLength(1)
    expect(hex(concat(d.writes[0] as Uint8Array[]))).toBe(hex(msgs('/multistream/1.0.0', '/noise')))
    const [dr, lr] = await Promise.all([dialing, handleOnConnection(l, ['/noise'])])
    expect(dr).toEqual({ protocol: '/noise', leftover: [] })
    expect(lr).toEqual({ protocol: '/noise', leftover: [] })
    // The listener answered header + echo in one write, only after it received the dialer's.
    expect(l.writes).toHaveLength(1)
  })

  it('the dialer does not wait for the listener header (a listener that reads first still works)', async () => {
    const [d, l] = connectionPair()
    // The "listener" here is a script that sends nothing until it has the dialer's whole first flight.
    const seen: Uint8Array[] = []
    l.attach({
      onData: c => {
        seen.push(c)
        if (concat(seen).length === msgs('/multistream/1.0.0', '/yamux/1.0.0').length) {
          l.write([msgs('/multistream/1.0.0', '/yamux/1.0.0')])
        }
      },
      onEnd: () => {},
      onClose: () => {}
    })
    expect(await selectOnConnection(d, ['/yamux/1.0.0'], { timeoutMs: 2000 })).toEqual({
      protocol: '/yamux/1.0.0',
      leftover: []
    })
  })

  it('listener returns pipelined bytes (header + /noise + Noise msg1 in one write) as leftover', async () => {
    const [d, l] = connectionPair()
    const msg1 = new Uint8Array(34); msg1[1] = 32; msg1.fill(5, 2)
    d.write([msgs('/multistream/1.0.0', '/noise'), msg1])
    const later = utf8('more bytes after detach')
    const res = await handleOnConnection(l, ['/noise'])
    expect(res.protocol).toBe('/noise')
    expect(hex(concat(res.leftover))).toBe(hex(msg1))
    // Bytes that arrive after the negotiation wait in the connection for the next sink.
    d.write([later])
    await new Promise(resolve => setImmediate(resolve))
    const next = collect(l)
    await new Promise(resolve => setImmediate(resolve))
    expect(text(concat(next.data))).toBe('more bytes after detach')
  })

  it('dialer leftover: bytes the listener sent right after its echo', async () => {
    const [d, l] = connectionPair()
    const dialing = selectOnConnection(d, ['/p/1'])
    l.write([msgs('/multistream/1.0.0', '/p/1'), utf8('hello')])
    const res = await dialing
    expect(text(concat(res.leftover))).toBe('hello')
  })

  it('na then the second proposal', async () => {
    const [d, l] = connectionPair()
    const [dr, lr] = await Promise.all([
      selectOnConnection(d, ['/yamux/1.0.0', '/mplex/6.7.0']),
      handleOnConnection(l, ['/mplex/6.7.0'])
    ])
    expect(dr.protocol).toBe('/mplex/6.7.0')
    expect(lr.protocol).toBe('/mplex/6.7.0')
    expect(d.writes.map(w => hex(concat(w)))).toEqual([
      hex(msgs('/multistream/1.0.0', '/yamux/1.0.0')),
      hex(msgs('/mplex/6.7.0'))
    ])
  })

  it('ProtocolNotSupportedError when everything is refused; the listener names what the dialer proposed', async () => {
    const [d, l] = connectionPair()
    const listening = handleOnConnection(l, ['/c'])
    const err = await selectOnConnection(d, ['/a', '/b']).catch(e => e)
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect(err.tried).toEqual(['/a', '/b'])
    d.closeWrite()
    const lerr = await listening.catch(e => e)
    expect(lerr).toBeInstanceOf(MultistreamError)
    expect(lerr.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
    expect(lerr.message).toBe(
      'peer proposed /a, /b, which we do not support (multistream: na), then ended the connection'
    )
  })

  it('EOF midway, a 1025-byte message, and a missing newline end it with a typed error', async () => {
    {
      const [d, l] = connectionPair()
      const dialing = selectOnConnection(d, ['/a'])
      l.write([msgs('/multistream/1.0.0').subarray(0, 4)])
      l.closeWrite()
      const e = await dialing.catch(err => err)
      expect(e).toBeInstanceOf(MultistreamError)
      expect(e.code).toBe('ERR_UNEXPECTED_EOF')
    }
    {
      const [d, l] = connectionPair()
      const listening = handleOnConnection(l, ['/a'])
      d.write([msgs('/multistream/1.0.0'), new Uint8Array([0x81, 0x08])])
      const e = await listening.catch(err => err)
      expect(e).toBeInstanceOf(MultistreamError)
      expect(e.code).toBe('ERR_MESSAGE_TOO_LARGE')
    }
    {
      const [d, l] = connectionPair()
      const listening = handleOnConnection(l, ['/a'])
      d.write([new Uint8Array([0x02, 0x2f, 0x61])])
      const e = await listening.catch(err => err)
      expect(e.code).toBe('ERR_MULTISTREAM_PROTOCOL')
    }
  })

  it('a connection error is passed through', async () => {
    const [d, l] = connectionPair()
    const dialing = selectOnConnection(d, ['/a'])
    const boom = new Error('boom')
    d.abort(boom)
    expect(await dialing.catch(e => e)).toBe(boom)
    void l
  })

  it('times out against a silent peer and honours an abort signal', async () => {
    const [d] = connectionPair()
    const e = await selectOnConnection(d, ['/a'], { timeoutMs: 30 }).catch(err => err)
    expect(e).toBeInstanceOf(MultistreamError)
    expect(e.code).toBe('ERR_NEGOTIATION_TIMEOUT')
    const [, l2] = connectionPair()
    const ac = new AbortController()
    const p = handleOnConnection(l2, ['/a'], { signal: ac.signal })
    ac.abort(new Error('user'))
    const e2 = await p.catch(err => err)
    expect(e2.code).toBe('ERR_ABORTED')
    expect(e2.cause.message).toBe('user')
    const e3 = await handleOnConnection(l2, ['/a'], { signal: AbortSignal.abort() }).catch(err => err)
    expect(e3.code).toBe('ERR_ABORTED')
    await expect(selectOnConnection(d, ['/a'], { timeoutMs: 0 })).rejects.toThrow(RangeError)
  })

  it('listProtocols on a connection', async () => {
    const [d, l] = connectionPair()
    const listening = handleOnConnection(l, ['/x/1', '/y/2'])
    expect(await listProtocols(d)).toEqual(['/x/1', '/y/2'])
    d.closeWrite()
    await listening.catch(() => {})
  })
})

describe('selectOnStream / handleOnStream', () => {
  it('full negotiation sets stream.protocol and hands leftover back through unread', async () => {
    const [d, l] = streamPair()
    const listening = handleOnStream(l, ['/echo/1.0.0'])
    const selecting = selectOnStream(d, ['/echo/1.0.0'])
    await Promise.all([listening, selecting])
    expect(d.writes.map(hex)).toEqual([hex(msgs('/multistream/1.0.0', '/echo/1.0.0'))])
    expect(d.protocol).toBe('/echo/1.0.0')
    expect(l.protocol).toBe('/echo/1.0.0')
  })

  it('listener passes bytes pipelined after the proposal to the handler (unread)', async () => {
    const [d, l] = streamPair()
    await d.write(concat([msgs('/multistream/1.0.0', '/p'), utf8('ping!')]))
    await d.closeWrite() // go-multistream#87: the dialer may already have half-closed
    expect(await handleOnStream(l, ['/p'])).toEqual({ protocol: '/p', stream: l })
    expect(text(await l.readExactly(5))).toBe('ping!')
    expect(await l.read()).toBeNull()
  })

  it('lazy select returns before any byte came back; data follows without a round trip', async () => {
    const [d, l] = streamPair()
    const res = await selectOnStream(d, ['/p'], { lazy: true })
    expect(res.protocol).toBe('/p')
    const s = res.stream
    expect(s).not.toBe(d) // the wrapper that checks the echo; `d` itself is left as it was
    expect(s.protocol).toBe('/p')
    expect(d.protocol).toBe('/p')
    expect(d.readCalls).toBe(0)
    await s.write(utf8('request'))
    // One write for the negotiation, one for the data; neither waited for the listener.
    expect(d.writes.map(hex)).toEqual([hex(msgs('/multistream/1.0.0', '/p')), hex(utf8('request'))])
    await handleOnStream(l, ['/p'])
    expect(text(await l.readExactly(7))).toBe('request')
    await l.write(utf8('response'))
    // The first read verifies header + echo transparently, then returns application bytes only.
    expect(text(await s.readExactly(8))).toBe('response')
    // Later calls go straight through to the stream.
    const reads = d.readCalls
    await l.write(utf8('more'))
    expect(text(await s.readExactly(4))).toBe('more')
    expect(d.readCalls).toBe(reads) // no second verification read
    expect(Object.prototype.hasOwnProperty.call(d, 'read')).toBe(false) // nothing was patched onto d
  })

  it('lazy select: closeWrite sends the FIN only after the echo was read (as go-multistream; js-libp2p aborts proposal+data+FIN)', async () => {
    const [d, l] = streamPair()
    const { stream: s } = await selectOnStream(d, ['/p'], { lazy: true })
    await s.write(utf8('request'))
    let closed = false
    const closing = s.closeWrite().then(() => { closed = true })
    // The proposal and the request have reached the listener (a FIN sent with them would be there too).
    const sent = d.writes.reduce((n, w) => n + w.length, 0)
    while (l.receivedBytes < sent) await new Promise(resolve => setImmediate(resolve))
    // No answer from the listener yet: our direction is still open.
    expect(l.remoteEnded).toBe(false)
    expect(closed).toBe(false)
    expect((d as unknown as { writeEnded: boolean }).writeEnded).toBe(false)
    await handleOnStream(l, ['/p'])
    await closing
    expect((d as unknown as { writeEnded: boolean }).writeEnded).toBe(true)
    expect(text(await l.readExactly(7))).toBe('request')
    expect(await l.read()).toBeNull()
  })

  it('lazy select: echo + response in one chunk; read(), readLp() and for-await all see only app data', async () => {
    for (const how of ['read', 'readLp', 'iterate'] as const) {
      const [d, l] = streamPair()
      const { stream: s } = await selectOnStream(d, ['/p'], { lazy: true })
      void l.write(concat([msgs('/multistream/1.0.0', '/p'), new Uint8Array([3, 0x61, 0x62, 0x63])]))
      let got: Uint8Array
      if (how === 'read') got = await s.read() as Uint8Array
      else if (how === 'readLp') got = await s.readLp(100)
      else {
        got = new Uint8Array(0)
        // The first chunk only: the loop exists to drive the stream's async iterator.
        // eslint-disable-next-line no-unreachable-loop
        for await (const c of s) { got = c; break }
      }
      expect(hex(got)).toBe(how === 'readLp' ? '616263' : '03616263')
    }
  })

  it('lazy select refused: the first read rejects with ProtocolNotSupportedError, later reads too, stream reset', async () => {
    const [d, l] = streamPair()
    const { stream: s } = await selectOnStream(d, ['/nope'], { lazy: true })
    await s.write(utf8('data for a refused protocol'))
    const listening = handleOnStream(l, ['/other'])
    const e = await s.read().catch(err => err)
    expect(e).toBeInstanceOf(ProtocolNotSupportedError)
    expect(await s.readExactly(1).catch(err => err)).toBe(e)
    expect(await s.closeWrite().catch(err => err)).toBe(e)
    expect(d.isReset).toBe(true)
    const le = await listening.catch(err => err)
    // 'd' (0x64) of the application data reads as a 100-byte message prefix; the reset ends the
    // wait, and the refusal is what the listener reports, with the reset as its cause.
    expect(le).toBeInstanceOf(MultistreamError)
    expect(le.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
    expect(le.message).toBe('peer proposed /nope, which we do not support (multistream: na), then reset the stream')
    expect(le.cause).toBeInstanceOf(StreamResetError)
  })

  it('na then second proposal on a stream; ProtocolNotSupportedError when all refused', async () => {
    const [d, l] = streamPair()
    const [r] = await Promise.all([selectOnStream(d, ['/a', '/b']), handleOnStream(l, ['/b'])])
    expect(r.protocol).toBe('/b')
    const [d2, l2] = streamPair()
    const listening = handleOnStream(l2, ['/c'])
    const e = await selectOnStream(d2, ['/a', '/b']).catch(err => err)
    expect(e).toBeInstanceOf(ProtocolNotSupportedError)
    await d2.closeWrite()
    await expect(listening).rejects.toThrow(
      'peer proposed /a, /b, which we do not support (multistream: na), then ended the connection'
    )
  })

  it('a silent listener times out; the stream is reset so no read is left dangling', async () => {
    const [d] = streamPair()
    const e = await selectOnStream(d, ['/a'], { timeoutMs: 30 }).catch(err => err)
    expect(e.code).toBe('ERR_NEGOTIATION_TIMEOUT')
    expect(d.isReset).toBe(true)
    await expect(d.read()).rejects.toBeInstanceOf(StreamResetError)
  })

  it('lazy verification is bounded by timeoutMs too', async () => {
    const [d] = streamPair()
    const { stream: s } = await selectOnStream(d, ['/a'], { lazy: true, timeoutMs: 30 })
    const e = await s.read().catch(err => err)
    expect(e.code).toBe('ERR_NEGOTIATION_TIMEOUT')
  })

  it('listProtocols on a stream', async () => {
    const [d, l] = streamPair()
    const listening = handleOnStream(l, ['/x/1', '/y/2'])
    expect(await listProtocols(d)).toEqual(['/x/1', '/y/2'])
    await d.closeWrite()
    await listening.catch(() => {})
  })
})

describe('maxMessageBytes reaches the machine through every driver', () => {
  /** The header, then only the length prefix of a 65-byte message: refused before its body with a limit of 64. */
  const oversize = concat([msgs('/multistream/1.0.0'), Uint8Array.of(65)])
  const tooLarge = { code: 'ERR_MESSAGE_TOO_LARGE', message: expect.stringMatching(/expected <= 64/) as unknown }

  it('handleOnConnection and selectOnConnection', async () => {
    const [d, l] = connectionPair()
    const listening = handleOnConnection(l, ['/a'], { maxMessageBytes: 64, timeoutMs: 5000 })
    d.write([oversize])
    expect(await listening.catch(e => e)).toMatchObject(tooLarge)
    const [d2, l2] = connectionPair()
    const dialing = selectOnConnection(d2, ['/a'], { maxMessageBytes: 64, timeoutMs: 5000 })
    l2.write([oversize])
    expect(await dialing.catch(e => e)).toMatchObject(tooLarge)
  })

  it('handleOnStream and selectOnStream (the stream is left to the caller, who resets it)', async () => {
    const [d, l] = streamPair()
    const listening = handleOnStream(l, ['/a'], { maxMessageBytes: 64, timeoutMs: 5000 })
    await d.write(oversize)
    expect(await listening.catch(e => e)).toMatchObject(tooLarge)
    const [d2, l2] = streamPair()
    const selecting = selectOnStream(d2, ['/a'], { maxMessageBytes: 64, timeoutMs: 5000 })
    await l2.write(oversize)
    expect(await selecting.catch(e => e)).toMatchObject(tooLarge)
  })

  it('lazy selectOnStream checks the echo with the limit on the first read', async () => {
    const [d, l] = streamPair()
    const { stream: s } = await selectOnStream(d, ['/a'], { lazy: true, maxMessageBytes: 64, timeoutMs: 5000 })
    await l.write(oversize)
    expect(await s.read().catch(e => e)).toMatchObject(tooLarge)
  })

  it('selectOnConnectionLazy', async () => {
    const [d, l] = connectionPair()
    const { connection } = selectOnConnectionLazy(d, '/a', { maxMessageBytes: 64, timeoutMs: 5000 })
    const closed = new Promise<Error | undefined>(resolve => {
      connection.attach({ onData: () => {}, onEnd: () => {}, onClose: resolve })
    })
    l.write([oversize])
    expect(await closed).toMatchObject(tooLarge)
  })

  it('listProtocols holds each entry to the limit', async () => {
    const [d, l] = connectionPair()
    const listening = handleOnConnection(l, ['/a', `/${'y'.repeat(40)}`])
    const e = await listProtocols(d, { maxMessageBytes: 19, timeoutMs: 5000 }).catch(err => err)
    expect(e).toBeInstanceOf(MultistreamError)
    expect(e.cause).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    d.closeWrite()
    await listening.catch(() => {})
  })

  it('an invalid limit rejects before anything is written', async () => {
    const [d] = connectionPair()
    await expect(selectOnConnection(d, ['/a'], { maxMessageBytes: 2000 })).rejects.toThrow(RangeError)
    expect(d.writes).toHaveLength(0)
    expect(() => selectOnConnectionLazy(d, '/a', { maxMessageBytes: 10 })).toThrow(RangeError)
  })
})
