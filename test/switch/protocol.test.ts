import { describe, expect, it } from 'vitest'
import { checkProtocolId, LPProtocol } from '../../src/switch/protocol.js'
import { ProtocolRegistry } from '../../src/switch/dispatcher.js'
import type { HandlerContext, ProtocolDefinition, StreamHandler } from '../../src/switch/protocol.js'
import type { ProtocolContext, ProtocolDefinition as AppProtocolDefinition } from '../../src/protocols/types.js'
import { streamProtoProtocol } from '../../src/protocols/stream-proto.js'

describe('LPProtocol', () => {
  const handler: StreamHandler = async () => {}

  it('keeps codecs and handler (nim `T(codecs: @[codec], handler: handle)`)', () => {
    const p = new LPProtocol({ codecs: ['/test/stream-proto/1.0.0'], handler })
    expect(p.codecs).toEqual(['/test/stream-proto/1.0.0'])
    expect(p.handler).toBe(handler)
    expect(p.maxIncomingStreams).toBeUndefined()
  })

  it('can be extended like the tutorial\'s TestStreamProto', () => {
    class TestStreamProto extends LPProtocol {
      constructor () { super({ codecs: ['/test/stream-proto/1.0.0'], handler }) }
    }
    const p = new TestStreamProto()
    expect(p).toBeInstanceOf(LPProtocol)
    expect(p.codecs).toEqual(['/test/stream-proto/1.0.0'])
  })

  it('copies the codecs so later mutation of the caller\'s array has no effect', () => {
    const codecs = ['/a/1']
    const p = new LPProtocol({ codecs, handler })
    codecs.push('/b/1')
    expect(p.codecs).toEqual(['/a/1'])
  })

  it.each([
    [{ codecs: [], handler }, /non-empty array/],
    [{ codecs: ['no-slash'], handler }, /starting with "\/"/],
    [{ codecs: ['/a\nb'], handler }, /without newline/],
    [{ codecs: ['/' + 'x'.repeat(1023)], handler }, /expected <= 1023 bytes, got 1024/],
    [{ codecs: ['/a'], handler: 'nope' }, /handler" expected a function/],
    [{ codecs: ['/a'], handler, maxIncomingStreams: 0 }, /maxIncomingStreams" expected a positive integer/]
  ])('refuses a bad definition %#', (init, message) => {
    expect(() => new LPProtocol(init as never)).toThrow(message)
  })

  it('a lower maxNegotiationMessageBytes lowers the longest id accepted (it could never be proposed)', () => {
    expect(() => {
      checkProtocolId('/' + 'x'.repeat(62), 64)
    }).not.toThrow()
    expect(() => {
      checkProtocolId('/' + 'x'.repeat(63), 64)
    }).toThrow(/expected <= 63 bytes \(maxNegotiationMessageBytes 64 counts the newline\), got 64/)
    const registry = new ProtocolRegistry(64)
    expect(() => { registry.mount(new LPProtocol({ codecs: ['/' + 'x'.repeat(63)], handler })) }).toThrow(RangeError)
    expect(registry.codecs()).toEqual([])
    registry.mount(new LPProtocol({ codecs: ['/' + 'x'.repeat(62)], handler }))
    expect(registry.codecs()).toHaveLength(1)
  })

  it('mounts the handlers of src/protocols unchanged', () => {
    // Compile-time checks: a protocol of src/protocols is a ProtocolDefinition, and the context
    // the switch hands handlers is the protocols' own type.
    const a: ProtocolDefinition = streamProtoProtocol
    const ctx = {} as HandlerContext
    const back: ProtocolContext = ctx
    const app: AppProtocolDefinition = { codecs: ['/x'], handler: async () => {} }
    const mountable: ProtocolDefinition = app
    expect([a, back, mountable].length).toBe(3)
  })
})
