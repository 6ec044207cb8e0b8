import { describe, expect, it } from 'vitest'
import { DEFAULT_SWITCH_CONFIG, resolveConfig } from '../../src/switch/config.js'
import { SwitchError } from '../../src/errors.js'

describe('switch config', () => {
  it('pins the documented defaults', () => {
    expect(DEFAULT_SWITCH_CONFIG).toEqual({
      maxConnections: 256,
      maxPendingConnections: 64,
      maxPendingConnectionsPerAddress: 8,
      connectionsHighWater: 224,
      connectionsLowWater: 192,
      connectionGracePeriodMs: 10_000,
      connectionTrimIntervalMs: 60_000,
      maxPendingDials: 64,
      maxInboundStreamsPerConnection: 256,
      maxOutboundStreamsPerConnection: 1024,
      maxNegotiationMessageBytes: 1024,
      handshakeTimeoutMs: 10_000,
      streamNegotiationTimeoutMs: 10_000,
      dialTimeoutMs: 10_000,
      stopTimeoutMs: 5_000,
      identifyTimeoutMs: 5_000
    })
    // The issue: the handshake timeout defaults to 10 s at most.
    expect(DEFAULT_SWITCH_CONFIG.handshakeTimeoutMs).toBeLessThanOrEqual(10_000)
    expect(Object.isFrozen(DEFAULT_SWITCH_CONFIG)).toBe(true)
  })

  it('merges a partial config over the defaults', () => {
    const c = resolveConfig({ maxConnections: 3, handshakeTimeoutMs: 250 })
    expect(c.maxConnections).toBe(3)
    expect(c.handshakeTimeoutMs).toBe(250)
    expect(c.maxPendingConnections).toBe(DEFAULT_SWITCH_CONFIG.maxPendingConnections)
    expect(resolveConfig()).toEqual(DEFAULT_SWITCH_CONFIG)
    expect(resolveConfig({ stopTimeoutMs: Infinity }).stopTimeoutMs).toBe(Infinity)
  })

  it('derives the watermarks from maxConnections unless given (7/8 and 3/4), and checks low < high <= max', () => {
    expect(resolveConfig({ maxConnections: 16 })).toMatchObject({ connectionsHighWater: 14, connectionsLowWater: 12 })
    expect(resolveConfig({ maxConnections: 1 })).toMatchObject({ connectionsHighWater: 1, connectionsLowWater: 0 })
    expect(resolveConfig({ maxConnections: 64, connectionsHighWater: 10 })).toMatchObject({
      connectionsHighWater: 10,
      connectionsLowWater: 9
    })
    expect(() => resolveConfig({ maxConnections: 8, connectionsHighWater: 9 })).toThrow(
      /"config.connectionsHighWater" expected at most maxConnections \(8\), got 9/
    )
    expect(() => resolveConfig({ connectionsLowWater: 224 })).toThrow(
      /"config.connectionsLowWater" expected an integer 0 … connectionsHighWater - 1 \(223\), got 224/
    )
    expect(() => resolveConfig({ connectionsLowWater: -1 })).toThrow(/connectionsLowWater/)
  })

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['zero count', { maxConnections: 0 }, /"config.maxConnections" expected a positive integer, got 0/],
    ['fractional count', { maxInboundStreamsPerConnection: 1.5 }, /maxInboundStreamsPerConnection.*got 1.5/],
    ['string count', { maxPendingConnections: '5' }, /maxPendingConnections.*got 5/],
    [
      'negative duration',
      { handshakeTimeoutMs: -1 },
      /"config.handshakeTimeoutMs" expected a positive number of milliseconds, got -1/
    ],
    ['NaN duration', { streamNegotiationTimeoutMs: NaN }, /streamNegotiationTimeoutMs.*NaN/],
    ['timer overflow', { dialTimeoutMs: 2 ** 31 }, /dialTimeoutMs" expected at most 2147483647/],
    [
      'tiny negotiation limit',
      { maxNegotiationMessageBytes: 10 },
      /maxNegotiationMessageBytes" expected 19 … 1024, got 10/
    ],
    [
      'negotiation limit above what peers accept',
      { maxNegotiationMessageBytes: 1025 },
      /maxNegotiationMessageBytes.*1025/
    ],
    ['unknown field (typo)', { handshakeTimeout: 5 }, /"config.handshakeTimeout" is not a switch setting/]
  ]
  it.each(bad)('refuses %s with a typed error', (_name, partial, message) => {
    let caught: unknown
    try { resolveConfig(partial as never) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(SwitchError)
    expect((caught as SwitchError).code).toBe('ERR_INVALID_CONFIG')
    expect((caught as Error).message).toMatch(message)
  })
})
