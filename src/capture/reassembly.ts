/**
 * TCP stream reassembly (RFC 9293 §3.4 sequence numbers): turns the captured segments of each
 * connection into the two in-order byte streams the endpoints' applications saw.
 *
 * Per direction, for each segment (numbered algorithm; all sequence arithmetic is mod 2^32, done
 * as a signed 32-bit distance from the next expected sequence number, so wrap-around is free):
 *  1. SYN: the first data byte is ISN + 1. A direction first seen without its SYN (capture started
 *     mid-connection) starts at the first segment it sees and is marked `midstream`.
 *  2. A segment wholly before `next` is a retransmission: dropped. One that overlaps `next` is
 *     trimmed to its new bytes (the first copy wins, as the receiver's stack kept it).
 *  3. A segment at `next` is delivered, then every held segment that now fits, in order.
 *  4. A segment after `next` (out of order, or after a loss) is held until the hole is filled.
 *  5. At the end, a hole that was never filled is a gap: the bytes after it are not delivered (an
 *     encrypted stream cannot be resumed after lost bytes), and the gap is reported.
 *
 * Connections are keyed by their two endpoints; a SYN for a key whose connection already ended
 * (or whose ISN differs) starts a new connection (port reuse).
 */
import { ByteTimeline } from './timeline.js'
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './packet.js'
import type { TcpEndpoint, TcpSegment } from './packet.js'

/** Most out-of-order bytes held per direction before reassembly gives up on it. */
export const MAX_HELD_BYTES = 64 * 1024 * 1024

export interface DirectionCapture {
  /** The bytes, in order, each chunk stamped with its packet's time. */
  readonly data: ByteTimeline
  /** The SYN of this direction was seen (else the capture began mid-connection). */
  synSeen: boolean
  /** Time of this direction's FIN, if one was captured. */
  finTime: number | undefined
  /** Bytes lost in the capture (never captured, or cut by the snap length), at stream offset `at`. */
  gap: { at: number, length: number } | undefined
}

export interface TcpConnectionCapture {
  /** 1, 2, … in order of the connection's first packet. */
  id: number
  /** The side that sent the SYN (the dialer); the first packet's source when no SYN was captured. */
  client: TcpEndpoint
  server: TcpEndpoint
  /** Time of the first packet. */
  openTime: number
  /** Time of the last packet. */
  lastTime: number
  toServer: DirectionCapture
  toClient: DirectionCapture
  /** A RST was seen: time of the first one. */
  resetTime: number | undefined
}

class DirectionState {
  readonly out: DirectionCapture = { data: new ByteTimeline(), synSeen: false, finTime: undefined, gap: undefined }
  private started = false
  /** Sequence number of the next byte to deliver (uint32) and its stream offset. */
  private nextSeq = 0
  private nextOffset = 0
  /** Held out-of-order segments by stream offset. */
  private readonly held = new Map<number, { bytes: Uint8Array, time: number }>()
  private heldBytes = 0
  private stopped = false
  isn: number | undefined

  segment (s: TcpSegment): void {
    const syn = (s.flags & TCP_SYN) !== 0
    if (syn) {
      if (!this.started) {
        this.isn = s.seq
        this.out.synSeen = true
        this.start((s.seq + 1) >>> 0)
      }
    } else if (!this.started) {
      if (s.payload.length === 0 && (s.flags & TCP_FIN) === 0) return // a bare ACK says nothing yet
      this.start(s.seq) // 1. mid-stream
    }
    const dataSeq = syn ? (s.seq + 1) >>> 0 : s.seq
    const offset = this.nextOffset + ((dataSeq - this.nextSeq) | 0)
    if ((s.flags & TCP_FIN) !== 0 && this.out.finTime === undefined) this.out.finTime = s.time
    if (this.stopped) return
    if (s.missing > 0) {
      // The snap length cut this segment: deliver what is there, the rest is a gap.
      this.take(offset, s.payload, s.time)
      if (this.out.gap === undefined) this.out.gap = { at: offset + s.payload.length, length: s.missing }
      this.stopped = true
      return
    }
    if (s.payload.length > 0) this.take(offset, s.payload, s.time)
  }

  private start (seq: number): void {
    this.started = true
    this.nextSeq = seq
    this.nextOffset = 0
  }

  private take (offset: number, bytes: Uint8Array, time: number): void {
    const end = offset + bytes.length
    if (end <= this.nextOffset) return // 2. retransmission
    if (offset > this.nextOffset) { // 4. hold
      const known = this.held.get(offset)
      if (known === undefined || known.bytes.length < bytes.length) {
        this.heldBytes += bytes.length - (known?.bytes.length ?? 0)
        this.held.set(offset, { bytes, time })
        if (this.heldBytes > MAX_HELD_BYTES) this.giveUp()
      }
      return
    }
    this.deliver(offset < this.nextOffset ? bytes.subarray(this.nextOffset - offset) : bytes, time) // 2./3.
    // 3. drain held segments that now fit
    while (this.held.size > 0) {
      let progressed = false
      for (const [o, h] of this.held) {
        if (o > this.nextOffset) continue
        this.held.delete(o)
        this.heldBytes -= h.bytes.length
        if (o + h.bytes.length > this.nextOffset) this.deliver(h.bytes.subarray(this.nextOffset - o), h.time)
        progressed = true
      }
      if (!progressed) break
    }
  }

  private deliver (bytes: Uint8Array, time: number): void {
    this.out.data.push(bytes, time)
    this.nextOffset += bytes.length
    this.nextSeq = (this.nextSeq + bytes.length) >>> 0
  }

  private giveUp (): void {
    this.finish()
    this.stopped = true
  }

  /** 5. Record the first unfilled hole. */
  finish (): void {
    if (this.held.size === 0 || this.out.gap !== undefined) return
    let first = Infinity
    for (const o of this.held.keys()) first = Math.min(first, o)
    this.out.gap = { at: this.nextOffset, length: first - this.nextOffset }
    this.held.clear()
    this.heldBytes = 0
  }
}

interface ConnectionState {
  capture: TcpConnectionCapture
  toServer: DirectionState
  toClient: DirectionState
  ended: boolean
}

function sameEndpoint (a: TcpEndpoint, b: TcpEndpoint): boolean {
  if (a.port !== b.port || a.ip.length !== b.ip.length) return false
  for (let i = 0; i < a.ip.length; i++) if (a.ip[i] !== b.ip[i]) return false
  return true
}

function endpointKey (e: TcpEndpoint): string {
  return `${Array.from(e.ip).join('.')}:${e.port}`
}

/** Feed segments in capture order; `finish()` returns every connection, in order of appearance. */
export class TcpReassembler {
  private readonly byKey = new Map<string, ConnectionState>()
  private readonly all: ConnectionState[] = []

  push (s: TcpSegment): void {
    const a = endpointKey(s.src)
    const b = endpointKey(s.dst)
    const key = a < b ? `${a}|${b}` : `${b}|${a}`
    const synOnly = (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN
    let c = this.byKey.get(key)
    if (c !== undefined && synOnly) {
      // A new SYN: the same connection's retransmitted SYN, or a new connection reusing the ports.
      const fromClient = sameEndpoint(s.src, c.capture.client)
      if (c.ended || !fromClient || (c.toServer.isn !== undefined && c.toServer.isn !== s.seq)) c = undefined
    }
    if (c === undefined) {
      // Without a SYN, a SYN+ACK tells us its sender is the server; else the first sender is the client.
      const synAck = (s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)
      const toServer = new DirectionState()
      const toClient = new DirectionState()
      const capture: TcpConnectionCapture = {
        id: this.all.length + 1,
        client: copyEndpoint(synAck ? s.dst : s.src),
        server: copyEndpoint(synAck ? s.src : s.dst),
        openTime: s.time,
        lastTime: s.time,
        toServer: toServer.out,
        toClient: toClient.out,
        resetTime: undefined
      }
      const state: ConnectionState = { capture, toServer, toClient, ended: false }
      this.byKey.set(key, state)
      this.all.push(state)
      c = state
    }
    const cap = c.capture
    cap.lastTime = Math.max(cap.lastTime, s.time)
    const dir = sameEndpoint(s.src, cap.client) ? c.toServer : c.toClient
    dir.segment(s)
    if ((s.flags & TCP_RST) !== 0) {
      if (cap.resetTime === undefined) cap.resetTime = s.time
      c.ended = true
    }
    if (cap.toServer.finTime !== undefined && cap.toClient.finTime !== undefined) c.ended = true
  }

  finish (): TcpConnectionCapture[] {
    for (const c of this.all) { c.toServer.finish(); c.toClient.finish() }
    return this.all.map(c => c.capture)
  }
}

function copyEndpoint (e: TcpEndpoint): TcpEndpoint {
  return { ip: Uint8Array.from(e.ip), port: e.port }
}
