/**
 * Key updates we start ourselves (RFC 9001 §6): after a packet count, by API, never before the
 * previous update is acknowledged, at the AEAD confidentiality limit (§6.6); both sides keep
 * exchanging data across several updates in both directions.
 */
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { CipherSuite } from '../../../src/security/tls/constants.js'
import { SUITES } from '../../../src/security/tls/key-schedule.js'
import type { QuicConnection, QuicTraceEvent } from '../../../src/transport/quic/connection.js'
import { aeadLimits } from '../../../src/transport/quic/key-update.js'
import { Harness } from './harness.js'
import { bothWays } from './traffic.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('QUIC key update (RFC 9001 §6)', () => {
  it('AEAD limits of §6.6: AES-GCM 2^23 / 2^52, ChaCha20-Poly1305 2^62 / 2^36', () => {
    expect(aeadLimits(SUITES[CipherSuite.TLS_AES_128_GCM_SHA256])).toEqual({
      confidentiality: 2 ** 23,
      integrity: 2 ** 52
    })
    expect(aeadLimits(SUITES[CipherSuite.TLS_AES_256_GCM_SHA384])).toEqual({
      confidentiality: 2 ** 23,
      integrity: 2 ** 52
    })
    expect(aeadLimits(SUITES[CipherSuite.TLS_CHACHA20_POLY1305_SHA256])).toEqual({
      confidentiality: 2 ** 62,
      integrity: 2 ** 36
    })
  })

  it('after a packet count, both sides update several times while data flows both ways intact', () => {
    const trace: Array<{ side: string, e: QuicTraceEvent }> = []
    const h = new Harness({ delayMs: 5 }, {
      client: {
        keyUpdateIntervalPackets: 40,
        onTrace: e => {
          if (e.type === 'key-update') trace.push({ side: 'client', e })
        }
      },
      server: {
        keyUpdateIntervalPackets: 40,
        onTrace: e => {
          if (e.type === 'key-update') trace.push({ side: 'server', e })
        }
      }
    })
    const server = h.established()
    const t = bothWays(h, 3, 200 * 1024)
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
    // each side started updates of its own and followed the other's
    expect(h.client.keyUpdates.local + server.keyUpdates.local).toBeGreaterThanOrEqual(6)
    expect(h.client.keyUpdates.local).toBeGreaterThanOrEqual(1)
    expect(server.keyUpdates.local).toBeGreaterThanOrEqual(1)
    // both ended in the same phase (simultaneous updates count as local on both sides)
    const phase = (c: QuicConnection): number => (c as unknown as { oneRtt: { keyPhase: number } }).oneRtt.keyPhase
    expect(phase(h.client)).toBe(phase(server))
    expect(trace.filter(x => x.side === 'client' && x.e.type === 'key-update' && x.e.initiator === 'local').length)
      .toBe(h.client.keyUpdates.local)
    expect(h.client.state).toBe('established')
  })

  it('updates across loss, reordering and duplication without losing a byte', () => {
    const h = new Harness({ delayMs: 20, jitterMs: 10, dropRate: 0.03, duplicateRate: 0.05, seed: 31 }, {
      client: { keyUpdateIntervalPackets: 30 },
      server: { keyUpdateIntervalPackets: 30 }
    })
    const server = h.established()
    const t = bothWays(h, 2, 128 * 1024)
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
    expect(h.client.keyUpdates.local + h.client.keyUpdates.remote).toBeGreaterThanOrEqual(4)
    expect(server.state).toBe('established')
  })

  it('by API: not before the handshake is confirmed, and not again before the previous update is acknowledged', () => {
    const h = new Harness()
    h.runUntil(() => h.client.state === 'established')
    // established but HANDSHAKE_DONE not received yet
    expect((h.client as unknown as { handshakeConfirmed: boolean }).handshakeConfirmed).toBe(false)
    expect(h.client.updateKeys()).toBe(false)
    const server = h.established()
    expect(h.client.updateKeys()).toBe(true)
    // nothing of the new phase sent, let alone acknowledged: a second update must wait (§6.1)
    expect(h.client.updateKeys()).toBe(false)
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(1, 2, 3))
    h.runUntil(() => server.keyUpdates.remote === 1)
    expect(h.client.updateKeys()).toBe(false)
    // the server's ACK arrives in the new phase: the update is complete and another may start
    h.runUntil(() => h.client.updateKeys())
    expect(h.client.keyUpdates.local).toBe(2)
    h.client.write(id, Uint8Array.of(4))
    h.client.finish(id)
    const got: number[] = []
    h.runUntil(() => {
      for (const e of h.serverEvents.splice(0)) {
        if (e.type === 'stream-readable') {
          for (let c = server.read(id); c !== undefined && c !== null; c = server.read(id)) got.push(...c)
        }
      }
      return got.length === 4
    })
    expect(got).toEqual([1, 2, 3, 4])
    expect(server.keyUpdates.remote).toBe(2)
  })

  it('a peer that updates again before we acknowledged its last update: KEY_UPDATE_ERROR (RFC 9001 §6.2)', () => {
    const h = new Harness()
    const server = h.established()
    // data in key phase 0, acknowledged: the client may update once (§6.1)
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(0))
    const settle = h.now + 1_000
    h.runUntil(() => h.now > settle)
    // the client forces its keys forward, ignoring §6.1 (updateKeys() would refuse the second time)
    const keys = (h.client as unknown as { oneRtt: { initiateUpdate: () => void } }).oneRtt
    // what the client sends now goes straight to the server (no pacing wait, nothing back)
    const deliver = (): number => {
      let n = 0
      for (let t = h.now; n === 0 && t < h.now + 1_000; t += 5) {
        for (const d of h.client.pollDatagrams(t)) { server.receiveDatagram(d, t); n++ }
      }
      return n
    }
    keys.initiateUpdate()
    h.client.write(id, Uint8Array.of(1))
    expect(deliver()).toBeGreaterThan(0) // the server follows to key phase 1, acknowledging nothing of it yet
    expect(server.keyUpdates.remote).toBe(1)
    keys.initiateUpdate()
    h.client.write(id, Uint8Array.of(2))
    expect(deliver()).toBeGreaterThan(0) // phase 0 again, opened with the next keys: a second update, unconfirmed
    const closed = server.pollEvents().find(e => e.type === 'closed')
    expect(server.state === 'closing' || closed !== undefined).toBe(true)
    const out = server.pollDatagrams(h.now)
    expect(out.length).toBeGreaterThan(0) // CONNECTION_CLOSE goes out
    const err = (server as unknown as { closeError: { code: string, transportErrorCode: number } }).closeError
    expect(err).toMatchObject({ code: 'ERR_QUIC_KEY_UPDATE', transportErrorCode: 0x0e })
  })

  it('an update after we acknowledged a packet of the current phase is accepted', () => {
    const h = new Harness()
    const server = h.established()
    const id = h.client.openStream()
    expect(h.client.updateKeys()).toBe(true)
    h.client.write(id, Uint8Array.of(1))
    h.runUntil(() => server.keyUpdates.remote === 1)
    // the server acknowledges in the new phase; the client may then update again, and does
    h.runUntil(() => h.client.updateKeys())
    h.client.write(id, Uint8Array.of(2))
    h.runUntil(() => server.keyUpdates.remote === 2)
    expect(server.state).toBe('established')
  })

  it('the AEAD confidentiality limit starts an update even with no interval configured, and is never exceeded (§6.6)', () => {
    const h = new Harness({}, { client: { keyUpdateIntervalPackets: Number.MAX_SAFE_INTEGER } })
    const server = h.established()
    // a small limit stands in for AES-GCM's 2^23 packets
    const c = h.client as unknown as { confidentialityLimit: number, oneRtt: { sentInPhase: number } }
    c.confidentialityLimit = 40
    let most = 0
    const t = bothWays(h, 2, 256 * 1024, () => { most = Math.max(most, c.oneRtt.sentInPhase) })
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
    expect(h.client.keyUpdates.local).toBeGreaterThanOrEqual(3)
    expect(server.keyUpdates.local).toBe(0)
    expect(most).toBeLessThanOrEqual(40)
    expect(h.client.state).toBe('established')
  })

  it('at the limit with the previous update unacknowledged, 1-RTT sending holds until it may update', () => {
    const h = new Harness({}, { client: { keyUpdateIntervalPackets: Number.MAX_SAFE_INTEGER } })
    h.established()
    const c = h.client as unknown as {
      confidentialityLimit: number,
      oneRtt: { sentInPhase: number, ackedInPhase: boolean }
    }
    c.confidentialityLimit = 10
    c.oneRtt.sentInPhase = 10
    c.oneRtt.ackedInPhase = false // as if the previous update were not acknowledged yet
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(1))
    expect(h.client.pollDatagrams(h.now)).toEqual([])
    expect(h.client.keyUpdates.local).toBe(0)
    c.oneRtt.ackedInPhase = true // the acknowledgement arrives
    expect(h.client.pollDatagrams(h.now).length).toBe(1)
    expect(h.client.keyUpdates.local).toBe(1)
    expect(c.oneRtt.sentInPhase).toBe(1)
  })
})
