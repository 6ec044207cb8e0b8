import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  MultistreamError,
  ProtocolNotSupportedError,
  StreamResetError,
  TransportError,
  protocolForDisplay
} from '../../src/errors.js'
import { HEADER_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from '../../src/multistream/constants.js'
import { HEADER_MESSAGE, NA_MESSAGE, encodeLsResponse, encodeMessage } from '../../src/multistream/messages.js'
import {
  Dialer,
  Listener,
  LsRequest,
  resolveMaxMessageBytes,
  type NegotiationStep
} from '../../src/multistream/negotiation.js'
import { concat } from '../helpers/bytes.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const msgs = (...m: string[]): Uint8Array => concat(m.map(encodeMessage))

/** Run a dialer against a listener fully in memory; returns both outcomes and every flight. */
function run (dialer: Dialer, listener: Listener, appData?: Uint8Array): {
  dialerStep: NegotiationStep,
  listenerStep: NegotiationStep,
  flights: string[]
} {
  const flights: string[] = []
  let toListener = concat(dialer.start())
  if (appData !== undefined) toListener = concat([toListener, appData])
  flights.push(`d>${hex(toListener)}`)
  for (let i = 0; i < 10; i++) {
    const ls = listener.receive(toListener)
    const toDialer = concat(ls.send)
    flights.push(`l>${hex(toDialer)}`)
    const ds = dialer.receive(toDialer)
    if (ds.protocol !== undefined || ls.protocol !== undefined) {
      return { dialerStep: ds, listenerStep: ls, flights }
    }
    toListener = concat(ds.send)
    flights.push(`d>${hex(toListener)}`)
  }
  throw new Error('no agreement in 10 rounds')
}

describe('Dialer', () => {
  it('first flight is header + first proposal together', () => {
    const d = new Dialer(['/noise'])
    expect(hex(concat(d.start()))).toBe(hex(msgs('/multistream/1.0.0', '/noise')))
  })

  it('agrees on the first protocol the listener has; leftover is empty', () => {
    const r = run(new Dialer(['/yamux/1.0.0']), new Listener(['/mplex/6.7.0', '/yamux/1.0.0']))
    expect(r.dialerStep.protocol).toBe('/yamux/1.0.0')
    expect(r.listenerStep.protocol).toBe('/yamux/1.0.0')
    expect(r.dialerStep.leftover).toEqual([])
    expect(r.flights).toEqual([
      `d>${hex(msgs('/multistream/1.0.0', '/yamux/1.0.0'))}`,
      `l>${hex(msgs('/multistream/1.0.0', '/yamux/1.0.0'))}` // header and answer in one flight
    ])
  })

  it('na, then the second proposal is accepted', () => {
    const r = run(new Dialer(['/yamux/1.0.0', '/mplex/6.7.0']), new Listener(['/mplex/6.7.0']))
    expect(r.dialerStep.protocol).toBe('/mplex/6.7.0')
    expect(r.flights).toEqual([
      `d>${hex(msgs('/multistream/1.0.0', '/yamux/1.0.0'))}`,
      `l>${hex(msgs('/multistream/1.0.0', 'na'))}`,
      `d>${hex(msgs('/mplex/6.7.0'))}`,
      `l>${hex(msgs('/mplex/6.7.0'))}`
    ])
  })

  it('ProtocolNotSupportedError lists everything tried when all are refused', () => {
    const d = new Dialer(['/a/1', '/b/1'])
    d.start()
    expect(d.receive(msgs('/multistream/1.0.0', 'na')).send.map(hex)).toEqual([hex(msgs('/b/1'))])
    try {
      d.receive(NA_MESSAGE)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolNotSupportedError)
      expect((err as ProtocolNotSupportedError).tried).toEqual(['/a/1', '/b/1'])
      expect((err as Error).message).toBe('peer refused /a/1, /b/1 (multistream: na)')
    }
    expect(() => d.receive(NA_MESSAGE)).toThrow(/after the negotiation ended/)
  })

  it('returns bytes after the echo as leftover (the listener pipelined its first bytes)', () => {
    const d = new Dialer(['/noise'])
    d.start()
    const tail = new Uint8Array([0x00, 0x20, 9, 9])
    const step = d.receive(concat([msgs('/multistream/1.0.0', '/noise'), tail]))
    expect(step.protocol).toBe('/noise')
    expect(hex(concat(step.leftover))).toBe(hex(tail))
  })

  it('rejects a wrong header, an unexpected answer, and a 1025-byte message', () => {
    const d1 = new Dialer(['/noise'])
    d1.start()
    expect(() => d1.receive(msgs('/multistream/2.0.0'))).toThrow(
      /header expected "\/multistream\/1.0.0", got "\/multistream\/2.0.0"/
    )
    const d2 = new Dialer(['/noise'])
    d2.start()
    expect(() => d2.receive(msgs('/multistream/1.0.0', '/tls'))).toThrow(
      /answer to "\/noise" expected the same id or "na", got "\/tls"/
    )
    const d3 = new Dialer(['/noise'])
    d3.start()
    const big = concat([new Uint8Array([0x81, 0x08]), new Uint8Array(1025).fill(0x61)])
    expect(() => d3.receive(concat([HEADER_MESSAGE, big]))).toThrow(/expected <= 1024/)
  })

  it('lazy: optimistic only with one protocol; a refusal is ProtocolNotSupportedError', () => {
    expect(new Dialer(['/a'], { lazy: true }).optimistic).toBe(true)
    expect(new Dialer(['/a', '/b'], { lazy: true }).optimistic).toBe(false)
    expect(new Dialer(['/a']).optimistic).toBe(false)
    const d = new Dialer(['/a'], { lazy: true })
    d.start()
    expect(() => d.receive(msgs('/multistream/1.0.0', 'na'))).toThrow(ProtocolNotSupportedError)
  })

  it('endOfInput names where it stopped', () => {
    const d1 = new Dialer(['/noise'])
    d1.start()
    expect(d1.endOfInput().message).toMatch(/before the listener sent the multistream header/)
    const d2 = new Dialer(['/noise'])
    d2.start()
    d2.receive(HEADER_MESSAGE)
    expect(d2.endOfInput().message).toMatch(/waiting for the answer to "\/noise"/)
    const d3 = new Dialer(['/noise'])
    d3.start()
    d3.receive(HEADER_MESSAGE.subarray(0, 5))
    const e3 = d3.endOfInput()
    expect(e3).toBeInstanceOf(MultistreamError)
    expect(e3.code).toBe('ERR_UNEXPECTED_EOF')
    expect(e3.message).toMatch(/middle of a multistream message/)
  })

  it('connectionLost: a reset names the answer we waited for and keeps its class and code; other errors pass', () => {
    const rst = new TransportError('ERR_CONNECTION_RESET', 'read: ECONNRESET')
    const d1 = new Dialer(['/noise'])
    d1.start()
    const e1 = d1.connectionLost(rst)
    expect(e1).toBeInstanceOf(TransportError)
    expect(e1).toMatchObject({ code: 'ERR_CONNECTION_RESET', cause: rst })
    expect(e1.message).toBe('peer reset the connection before sending the multistream header (we proposed /noise)')
    const d2 = new Dialer(['/yamux/1.0.0'])
    d2.start()
    d2.receive(HEADER_MESSAGE)
    const e2 = d2.connectionLost(new StreamResetError('stream 3 reset by remote'), 'stream')
    expect(e2).toBeInstanceOf(StreamResetError)
    expect(e2.message).toBe('peer reset the stream before answering our proposal of /yamux/1.0.0 (multistream)')
    const other = new Error('local abort')
    const d3 = new Dialer(['/noise'])
    d3.start()
    expect(d3.connectionLost(other)).toBe(other)
  })

  it('validates its protocol list', () => {
    expect(() => new Dialer([])).toThrow(TypeError)
    expect(() => new Dialer([''])).toThrow(TypeError)
    expect(() => new Dialer(['na'])).toThrow(/reserved/)
    expect(() => new Dialer(['/multistream/1.0.0'])).toThrow(/reserved/)
  })
})

describe('Listener', () => {
  it('answers nothing before the dialer header (never speaks first)', () => {
    const l = new Listener(['/noise'])
    expect(l.receive(HEADER_MESSAGE.subarray(0, 3)).send).toEqual([])
  })

  it('passes pipelined bytes through as leftover (rust V1Lazy: header + /noise + Noise msg1)', () => {
    const l = new Listener(['/noise'])
    const msg1 = new Uint8Array(34)
    msg1[1] = 32
    msg1.fill(7, 2)
    const step = l.receive(concat([msgs('/multistream/1.0.0', '/noise'), msg1]))
    expect(step.protocol).toBe('/noise')
    expect(hex(concat(step.send))).toBe(hex(msgs('/multistream/1.0.0', '/noise')))
    expect(hex(concat(step.leftover))).toBe(hex(msg1))
  })

  it('answers na to unknown protocols and to a repeated header, ls with the list', () => {
    const l = new Listener(['/a', '/bc'])
    const step = l.receive(msgs('/multistream/1.0.0', '/x', '/multistream/1.0.0', 'ls'))
    expect(step.send.map(hex)).toEqual([
      hex(HEADER_MESSAGE),
      hex(NA_MESSAGE),
      hex(NA_MESSAGE),
      hex(encodeLsResponse(['/a', '/bc']))
    ])
    expect(l.refused).toEqual(['/x', '/multistream/1.0.0'])
    expect(l.done).toBe(false)
  })

  it('rejects a wrong first message, and says what it refused before garbage', () => {
    expect(() => new Listener(['/a']).receive(msgs('/a'))).toThrow(/header expected "\/multistream\/1.0.0", got "\/a"/)
    const l = new Listener(['/a'])
    l.receive(msgs('/multistream/1.0.0', '/b'))
    expect(() => l.receive(new Uint8Array([0x02, 0x41, 0x42]))).toThrow(
      /^peer proposed \/b, which we do not support \(multistream: na\); what followed was not multistream \(.*trailing newline/
    )
  })

  it('connectionLost after a refusal: the refusal is the error, the reset its cause (go-libp2p RST-closes)', () => {
    const l = new Listener(['/noise'])
    l.receive(msgs('/multistream/1.0.0', '/tls/1.0.0'))
    const rst = new TransportError('ERR_CONNECTION_RESET', 'read: ECONNRESET')
    const e = l.connectionLost(rst)
    expect(e).toBeInstanceOf(MultistreamError)
    expect(e).toMatchObject({ code: 'ERR_PROTOCOL_NOT_SUPPORTED', cause: rst })
    expect(e.message).toBe(
      'peer proposed /tls/1.0.0, which we do not support (multistream: na), then reset the connection'
    )
    const l2 = new Listener(['/noise'])
    l2.receive(HEADER_MESSAGE)
    expect(l2.connectionLost(rst).message).toBe('peer reset the connection before proposing a protocol (multistream)')
  })

  it('protocolForDisplay: bare when short printable ASCII, else quoted and cut', () => {
    expect(protocolForDisplay('/noise')).toBe('/noise')
    expect(protocolForDisplay('a b')).toBe('"a b"')
    expect(protocolForDisplay('\u0000')).toBe('"\\u0000"')
    expect(protocolForDisplay('/x'.repeat(50))).toBe(JSON.stringify('/x'.repeat(40) + '…'))
  })

  it('endOfInput after a refusal names the refused proposal', () => {
    const l = new Listener(['/a'])
    l.receive(msgs('/multistream/1.0.0', '/b'))
    const e = l.endOfInput()
    expect(e.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
    expect(e.message).toBe('peer proposed /b, which we do not support (multistream: na), then ended the connection')
    expect(new Listener([]).endOfInput().message).toMatch(/before the dialer sent the multistream header/)
  })

  it('listeners built from one list share its answers, and follow the list when it changes (issue #15)', () => {
    const list = ['/a', '/bc']
    const first = new Listener(list)
    const second = new Listener(list)
    expect(second.protocols).toBe(first.protocols)
    const step = second.receive(msgs('/multistream/1.0.0', '/bc'))
    expect(step.protocol).toBe('/bc')
    expect(hex(concat(step.send))).toBe(hex(msgs('/multistream/1.0.0', '/bc')))
    list[1] = '/d'
    const third = new Listener(list)
    expect(third.protocols).toEqual(['/a', '/d'])
    expect(third.receive(msgs('/multistream/1.0.0', '/bc')).send.map(hex)).toEqual([hex(HEADER_MESSAGE), hex(NA_MESSAGE)])
    expect(new Listener(list).receive(msgs('/multistream/1.0.0', '/d')).protocol).toBe('/d')
    list.push('ls')
    expect(() => new Listener(list)).toThrow(/reserved message "ls"/)
  })

  it('rejects a 1025-byte proposal and a missing newline', () => {
    const l = new Listener(['/a'])
    const e = (() => {
      try {
        l.receive(concat([HEADER_MESSAGE, new Uint8Array([0x81, 0x08])]))
      } catch (err) {
        return err
      }
    })()
    expect(e).toBeInstanceOf(MultistreamError)
    expect((e as MultistreamError).code).toBe('ERR_MESSAGE_TOO_LARGE')
    expect(() => new Listener(['/a']).receive(concat([HEADER_MESSAGE, new Uint8Array([0x02, 0x2f, 0x61])]))).toThrow(
      /trailing newline/
    )
  })
})

describe('LsRequest', () => {
  it('reads the listener list', () => {
    const r = new LsRequest()
    expect(hex(concat(r.start()))).toBe(hex(msgs('/multistream/1.0.0', 'ls')))
    const l = new Listener(['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0'])
    const answer = concat(l.receive(concat(r.start())).send)
    expect(r.receive(answer)).toEqual(['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0'])
  })

  it('na (go removed ls) is ProtocolNotSupportedError([ls])', () => {
    const r = new LsRequest()
    r.start()
    expect(() => r.receive(msgs('/multistream/1.0.0', 'na'))).toThrow(ProtocolNotSupportedError)
  })
})

describe('maxMessageBytes (digest §2.5)', () => {
  /** A proposal whose message (text + newline) is exactly `n` bytes. */
  const idOfLength = (n: number): string => `/${'x'.repeat(n - 2)}`
  const thrown = (f: () => unknown): unknown => {
    try {
      f()
    } catch (err) {
      return err
    }
    return undefined
  }

  it('a listener configured with 64 bytes refuses a 65-byte proposal at its prefix, before the body', () => {
    const l = new Listener(['/a'], { maxMessageBytes: 64 })
    expect(l.receive(HEADER_MESSAGE).send).toEqual([HEADER_MESSAGE])
    // Only the prefix (65 = 0x41) arrives: refused at once, nothing of the body was waited for.
    const e = thrown(() => l.receive(Uint8Array.of(65)))
    expect(e).toBeInstanceOf(MultistreamError)
    expect(e).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect((e as Error).message).toMatch(/expected <= 64 \(including the newline\), got 65/)
    expect(() => l.receive(msgs('/a'))).toThrow(/after the negotiation ended/)
  })

  it('a listener configured with 64 bytes answers a 64-byte proposal (na, or its echo when mounted)', () => {
    const id = idOfLength(64)
    expect(encodeMessage(id)).toHaveLength(65) // 1-byte prefix + 64
    const refusing = new Listener(['/a'], { maxMessageBytes: 64 })
    expect(refusing.receive(concat([HEADER_MESSAGE, encodeMessage(id)])).send).toEqual([HEADER_MESSAGE, NA_MESSAGE])
    const accepting = new Listener([id], { maxMessageBytes: 64 })
    expect(accepting.receive(concat([HEADER_MESSAGE, encodeMessage(id)])).protocol).toBe(id)
  })

  it('a limit whose prefix is one byte refuses a two-byte prefix at its first byte', () => {
    const l = new Listener(['/a'], { maxMessageBytes: 100 })
    l.receive(HEADER_MESSAGE)
    expect(() => l.receive(Uint8Array.of(0x80))).toThrow(
      expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }) as Error
    )
  })

  it('defaults to 1024; accepts 19 … 1024 and refuses anything else with a RangeError/TypeError', () => {
    expect(resolveMaxMessageBytes(undefined)).toBe(MAX_MESSAGE_LENGTH)
    expect(new Listener(['/a']).maxMessageBytes).toBe(1024)
    expect(new LsRequest().maxMessageBytes).toBe(1024)
    expect(new Dialer(['/a']).maxMessageBytes).toBe(1024)
    expect(HEADER_MESSAGE_LENGTH).toBe(19)
    expect(new Listener(['/a'], { maxMessageBytes: 19 }).maxMessageBytes).toBe(19)
    expect(new Listener(['/a'], { maxMessageBytes: 1024 }).maxMessageBytes).toBe(1024)
    expect(() => new Listener(['/a'], { maxMessageBytes: 18 })).toThrow(RangeError)
    expect(() => new Listener(['/a'], { maxMessageBytes: 1025 })).toThrow(
      /"maxMessageBytes" expected 19 … 1024 .*got 1025/
    )
    expect(() => new Dialer(['/a'], { maxMessageBytes: 16383 })).toThrow(RangeError)
    expect(() => new LsRequest({ maxMessageBytes: 0 })).toThrow(RangeError)
    expect(() => new Listener(['/a'], { maxMessageBytes: 64.5 })).toThrow(TypeError)
    expect(() => new Listener(['/a'], { maxMessageBytes: NaN })).toThrow(TypeError)
    expect(() => new Listener(['/a'], { maxMessageBytes: '64' as unknown as number })).toThrow(TypeError)
  })

  it('the lowest limit (19) still negotiates: header, na and short ids fit', () => {
    const r = run(new Dialer(['/b', '/a'], { maxMessageBytes: 19 }), new Listener(['/a'], { maxMessageBytes: 19 }))
    expect(r.dialerStep.protocol).toBe('/a')
  })

  it('a dialer accepts the echo of its own proposal even when that is above its limit', () => {
    const id = idOfLength(100)
    const d = new Dialer(['/short', id], { maxMessageBytes: 64 })
    expect(d.maxMessageBytes).toBe(100)
    const r = run(d, new Listener([id]))
    expect(r.dialerStep.protocol).toBe(id)
  })

  it('a dialer refuses an answer above its limit at the prefix', () => {
    const d = new Dialer(['/a'], { maxMessageBytes: 64 })
    d.start()
    const e = thrown(() => d.receive(concat([HEADER_MESSAGE, Uint8Array.of(65)])))
    expect(e).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect(e).toBeInstanceOf(MultistreamError)
  })

  it('LsRequest: the header and every entry are held to the limit (the response as a whole is not)', () => {
    const entries = Array.from({ length: 40 }, (_, i) => `/p/${i}`)
    const ok = new LsRequest({ maxMessageBytes: 19 })
    ok.start()
    expect(ok.receive(concat([HEADER_MESSAGE, encodeLsResponse(entries)]))).toEqual(entries)
    const long = new LsRequest({ maxMessageBytes: 64 })
    long.start()
    const e = thrown(() => long.receive(concat([HEADER_MESSAGE, encodeLsResponse(['/a', idOfLength(65)])])))
    expect(e).toBeInstanceOf(MultistreamError)
    expect((e as Error & { cause: Error }).cause).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
  })
})

describe('negotiation properties', () => {
  const arbId = fc.stringMatching(/^\/[a-z0-9./-]{1,20}$/)
  it('dialer and listener agree on the first dialer protocol the listener has, with any split of the bytes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(arbId, { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(arbId, { maxLength: 4 }),
        fc.uint8Array({ maxLength: 6 }),
        fc.nat(),
        (mine, theirs, app, cutSeed) => {
          const expected = mine.find(p => theirs.includes(p))
          const d = new Dialer(mine)
          const l = new Listener(theirs)
          // A lazy dialer's application data rides behind its only proposal (when it is accepted).
          const pipelined = mine.length === 1 && expected !== undefined
          let toListener = concat([...d.start(), ...(pipelined ? [app] : [])])
          let listenerResult: NegotiationStep | undefined
          for (let round = 0; round < 10; round++) {
            const cut = toListener.length === 0 ? 0 : cutSeed % (toListener.length + 1)
            const s1 = l.receive(toListener.subarray(0, cut))
            const s2 = s1.protocol !== undefined ? s1 : l.receive(toListener.subarray(cut))
            const answers = concat([...s1.send, ...(s2 === s1 ? [] : s2.send)])
            if (s2.protocol !== undefined) listenerResult = s2
            let ds: NegotiationStep
            try {
              ds = d.receive(answers)
            } catch (err) {
              expect(expected).toBeUndefined()
              expect(err).toBeInstanceOf(ProtocolNotSupportedError)
              return
            }
            if (ds.protocol !== undefined) {
              expect(ds.protocol).toBe(expected)
              expect(listenerResult?.protocol).toBe(expected)
              if (pipelined) {
                const passed = s1.protocol !== undefined
                  ? concat([...s1.leftover, toListener.subarray(cut)])
                  : concat(s2.leftover)
                expect(hex(passed)).toBe(hex(app))
              }
              return
            }
            toListener = concat(ds.send)
          }
          expect.unreachable('no outcome in 10 rounds')
        }
      ),
      { numRuns: 300 }
    )
  })
})
