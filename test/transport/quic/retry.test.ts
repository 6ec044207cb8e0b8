/**
 * Retry-based address validation (RFC 9000 §8.1.2, §17.2.5; RFC 9001 §5.8): tokens, the server's
 * stateless decision (always / under load / never), the client taking exactly one Retry and
 * echoing its token, the connection-id transport parameters checked on the client (§7.3), and
 * INVALID_TOKEN for a token of ours that no longer proves the address (§8.1.3).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { LongPacketType } from '../../../src/transport/quic/constants.js'
import type { QuicConnection, QuicTraceEvent } from '../../../src/transport/quic/connection.js'
import { parseHeader } from '../../../src/transport/quic/header.js'
import { verifyRetryIntegrity } from '../../../src/transport/quic/protection.js'
import { encodeRetry, RetryTokens, StatelessServer } from '../../../src/transport/quic/stateless.js'
import { Harness, type LinkOptions, type SideOptions } from './harness.js'
import { bothWays } from './traffic.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const peer = { address: '198.51.100.7', port: 5000 }
const odcid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)
const rscid = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9)

function withGate (
  link: LinkOptions,
  gate: StatelessServer,
  sides: SideOptions = {}
): { h: Harness, trace: QuicTraceEvent[] } {
  const trace: QuicTraceEvent[] = []
  const h = new Harness(link, { ...sides, gate, client: { onTrace: e => trace.push(e), ...sides.client } })
  return { h, trace }
}

describe('Retry tokens (RFC 9000 §8.1.4)', () => {
  it('a token proves the address, port and Retry SCID it was issued for, for its lifetime', () => {
    const t = new RetryTokens(10_000)
    const token = t.issue(peer, odcid, rscid, 1000)
    expect(t.check(token, peer, rscid, 1000)).toEqual({ kind: 'valid', originalDcid: odcid })
    expect(t.check(token, peer, rscid, 11_000)).toEqual({ kind: 'valid', originalDcid: odcid })
    expect(t.check(token, peer, rscid, 11_001)).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining('expired')
    })
    expect(t.check(token, { ...peer, port: 5001 }, rscid, 1000)).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining('another address')
    })
    expect(t.check(token, { ...peer, address: '198.51.100.8' }, rscid, 1000)).toMatchObject({ kind: 'invalid' })
    // echoed under another DCID, or from another endpoint (other key): not ours for this Initial
    expect(t.check(token, peer, odcid, 1000)).toEqual({ kind: 'unknown' })
    expect(new RetryTokens().check(token, peer, rscid, 1000)).toEqual({ kind: 'unknown' })
  })

  it('any tampered byte, any truncation, any garbage: not a valid token, never a throw', () => {
    const t = new RetryTokens()
    const token = t.issue(peer, odcid, rscid, 0)
    for (let i = 0; i < token.length; i++) {
      const bad = token.slice(); bad[i] = (bad[i] as number) ^ 0x01
      expect(t.check(bad, peer, rscid, 0).kind).toBe('unknown')
      expect(t.check(token.subarray(0, i), peer, rscid, 0).kind).toBe('unknown')
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
      expect(t.check(garbage, peer, rscid, 0).kind).toBe('unknown')
    }))
  })
})

describe('server Retry decision (RFC 9000 §8.1.2)', () => {
  it('policy always: every first Initial gets a Retry; the handshake completes through it in 2 RTT', () => {
    const gate = new StatelessServer({ retry: 'always', cidLength: 8 }, 0)
    const { h, trace } = withGate({ delayMs: 50 }, gate)
    const start = h.now
    h.runUntil(() => h.client.state === 'established')
    // the Retry round trip, then the 1-RTT handshake (100 ms round trips)
    expect(h.now - start).toBe(200)
    h.runUntil(() => h.server?.state === 'established')
    const server = h.server as QuicConnection
    expect(h.gateDecisions.map(d => d.kind === 'send' ? d.reason : d.kind)).toEqual(['retry', 'accept'])
    expect(trace.filter(e => e.type === 'retry')).toHaveLength(1)
    // the token proved the address: no 3x limit on the server (RFC 9000 §8.1.2)
    expect((server as unknown as { amplification: { validated: boolean } }).amplification.validated).toBe(true)
    // RFC 9000 §7.3: the server announced both connection ids, the client checked them
    expect(h.client.peerParams?.retrySourceConnectionId).toEqual(h.client.retrySourceCid)
    expect(h.client.peerParams?.originalDestinationConnectionId).toEqual(
      (h.client as unknown as { originalDcid: Uint8Array }).originalDcid
    )
    const t = bothWays(h, 2, 64 * 1024)
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
  })

  it('the Retry on the wire: integrity tag over the client\'s original DCID, the client\'s SCID as DCID, a token', () => {
    const gate = new StatelessServer({ retry: 'always', cidLength: 8 }, 0)
    const { h } = withGate({}, gate)
    h.runUntil(() => h.gateDecisions.length > 0)
    const d = h.gateDecisions[0]
    if (d?.kind !== 'send') throw new Error('expected a Retry')
    const retry = parseHeader(d.datagram, 0, 8)
    expect(retry.form).toBe('retry')
    if (retry.form !== 'retry') return
    const client = h.client as unknown as { originalDcid: Uint8Array, localCid: Uint8Array }
    expect(retry.dcid).toEqual(client.localCid)
    expect(retry.token.length).toBeGreaterThan(0)
    expect(verifyRetryIntegrity(client.originalDcid, d.datagram)).toBe(true)
    // the client's next Initial goes to the Retry SCID and carries the token
    h.runUntil(() => h.gateDecisions.length > 1)
    expect(h.gateDecisions[1]).toMatchObject({
      kind: 'accept',
      validated: true,
      retry: { originalDcid: client.originalDcid, retrySourceCid: retry.scid }
    })
    const accepted = h.gateDecisions[1]
    if (accepted?.kind !== 'accept') return
    expect(accepted.header.token).toEqual(retry.token)
    expect(accepted.header.dcid).toEqual(retry.scid)
  })

  it('under load: Retry once the pending handshakes reach the threshold, accept below it', () => {
    let pending = 3
    const mk = (): Harness =>
      withGate({}, new StatelessServer({ retryAfterPendingHandshakes: 4, cidLength: 8 }, 0), {
        pendingHandshakes: () => pending
      }).h
    const below = mk()
    below.runUntil(() => below.client.state === 'established')
    expect(below.gateDecisions.map(d => d.kind)).toEqual(['accept'])
    expect(below.client.retrySourceCid).toBeUndefined()
    pending = 4
    const at = mk()
    at.runUntil(() => at.client.state === 'established')
    expect(at.gateDecisions.map(d => d.kind === 'send' ? d.reason : d.kind)).toEqual(['retry', 'accept'])
  })

  it('policy never: no Retry whatever the load', () => {
    const { h } = withGate({}, new StatelessServer({ retry: 'never', cidLength: 8 }, 0), {
      pendingHandshakes: () => 1e6
    })
    h.runUntil(() => h.client.state === 'established')
    expect(h.gateDecisions.map(d => d.kind)).toEqual(['accept'])
  })

  it('Retry under 10% loss, reordering and duplication: the handshake and data still complete', () => {
    for (const seed of [1, 2, 3]) {
      const { h } = withGate(
        { dropRate: 0.1, duplicateRate: 0.1, jitterMs: 15, delayMs: 20, seed },
        new StatelessServer({ retry: 'always', cidLength: 8 }, 0)
      )
      h.runUntil(() => h.client.state === 'established' && h.server?.state === 'established')
      const t = bothWays(h, 1, 32 * 1024)
      expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
      expect(h.client.retrySourceCid).toBeDefined()
    }
  })

  it('an expired token gets an INVALID_TOKEN close that reaches the client (RFC 9000 §8.1.3)', () => {
    // the token's lifetime is shorter than the link's round trip
    const gate = new StatelessServer({ retry: 'always', retryTokenLifetimeMs: 10, cidLength: 8 }, 0)
    const { h } = withGate({ delayMs: 20 }, gate)
    h.runUntil(() => h.client.isClosed)
    expect(h.gateDecisions.map(d => d.kind === 'send' ? d.reason : d.kind)).toEqual(['retry', 'invalid-token'])
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({
      error: { code: 'ERR_QUIC_CONNECTION_CLOSED', transportErrorCode: 0x0b }
    })
    expect(h.server).toBeUndefined()
  })
})

describe('client handling of Retry (RFC 9000 §17.2.5.2)', () => {
  /** A client that has sent its first Initial, and that Initial's header. */
  function started (): { h: Harness, first: Uint8Array, trace: QuicTraceEvent[] } {
    const trace: QuicTraceEvent[] = []
    const h = new Harness({}, { client: { onTrace: e => trace.push(e) } })
    const first = h.client.pollDatagrams(h.now)[0] as Uint8Array
    return { h, first, trace }
  }
  const retryFor = (
    first: Uint8Array,
    token = Uint8Array.of(7, 7, 7),
    scid = Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 5),
    tagDcid?: Uint8Array
  ): Uint8Array => {
    const ch = parseHeader(first, 0, 8)
    if (ch.form !== 'long') throw new Error('not a long header')
    return encodeRetry(ch.scid, scid, token, tagDcid ?? ch.dcid)
  }

  it('takes one Retry: the next Initial goes to the new DCID with the token, under new Initial keys', () => {
    const { h, first, trace } = started()
    h.client.receiveDatagram(retryFor(first), h.now)
    const [again] = h.client.pollDatagrams(h.now)
    const ah = parseHeader(again as Uint8Array, 0, 8)
    expect(ah).toMatchObject({
      form: 'long',
      type: LongPacketType.Initial,
      dcid: Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 5),
      token: Uint8Array.of(7, 7, 7)
    })
    expect((again as Uint8Array).length).toBeGreaterThanOrEqual(1200)
    expect(trace.filter(e => e.type === 'retry')).toHaveLength(1)
    // a second Retry is discarded (§17.2.5.2: one per connection attempt)
    h.client.receiveDatagram(retryFor(first, Uint8Array.of(8), Uint8Array.of(6, 6, 6, 6, 6, 6, 6, 6)), h.now)
    expect(trace.filter(e => e.type === 'retry')).toHaveLength(1)
    expect(h.client.retrySourceCid).toEqual(Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 5))
  })

  it('discards a Retry with a bad integrity tag, an empty token, or after the server answered', () => {
    const bad = started()
    bad.h.client.receiveDatagram(
      retryFor(bad.first, Uint8Array.of(7), undefined, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0)),
      bad.h.now
    )
    expect(bad.h.client.retrySourceCid).toBeUndefined()
    expect(bad.trace.some(e => e.type === 'dropped' && e.reason.includes('integrity'))).toBe(true)
    const empty = started()
    empty.h.client.receiveDatagram(retryFor(empty.first, new Uint8Array(0)), empty.h.now)
    expect(empty.h.client.retrySourceCid).toBeUndefined()
    // after the handshake: a Retry is just dropped
    const done = new Harness()
    done.runUntil(() => done.client.state === 'established')
    const local = (done.client as unknown as { localCid: Uint8Array }).localCid
    done.client.receiveDatagram(
      encodeRetry(
        local,
        Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1),
        Uint8Array.of(1),
        (done.client as unknown as { originalDcid: Uint8Array }).originalDcid
      ),
      done.now
    )
    expect(done.client.retrySourceCid).toBeUndefined()
    expect(done.client.state).toBe('established')
  })

  it.each([
    ['hides the Retry', undefined, 'original_destination_connection_id'],
    ['names another Retry SCID', Uint8Array.of(4, 4, 4, 4), 'retry_source_connection_id does not match']
  ])('closes with TRANSPORT_PARAMETER_ERROR when the server %s (RFC 9000 §7.3)', (_name, rscid, message) => {
    // the gate sends a Retry but the server machine is built with other parameters
    const gate = new StatelessServer({ retry: 'always', cidLength: 8 }, 0)
    const h = new Harness({}, { gate })
    const origOnDatagram = gate.onDatagram.bind(gate)
    gate.onDatagram = (...args) => {
      const d = origOnDatagram(...args)
      if (d.kind !== 'accept' || d.retry === undefined) return d
      const { retry, ...rest } = d
      return rscid === undefined ? rest : { ...rest, retry: { ...retry, retrySourceCid: rscid } }
    }
    h.runUntil(() => h.client.isClosed)
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({
      error: { code: 'ERR_QUIC_TRANSPORT_PARAMETER', message: expect.stringContaining(message) }
    })
  })

  it('closes with TRANSPORT_PARAMETER_ERROR on a retry_source_connection_id without a Retry', () => {
    const sides: SideOptions = { server: {} }
    // the server's parameters claim a Retry the client never saw (the original DCID itself is right)
    const h = new Harness({}, sides)
    ;(sides.server as { retry?: unknown }).retry = {
      originalDcid: (h.client as unknown as { originalDcid: Uint8Array }).originalDcid,
      retrySourceCid: Uint8Array.of(1, 2, 3, 4)
    }
    h.runUntil(() => h.client.isClosed)
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({
      error: { code: 'ERR_QUIC_TRANSPORT_PARAMETER', message: expect.stringContaining('without a Retry') }
    })
  })
})
