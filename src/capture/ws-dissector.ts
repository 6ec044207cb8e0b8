/**
 * `/ws` connections in captures: the HTTP/1.1 upgrade, then RFC 6455 frames, whose binary
 * payloads (unmasked) carry the libp2p byte stream on to the next dissector (multistream → …).
 *
 * A connection is taken as WebSocket when the dialer's first bytes are an HTTP `GET ` request
 * (libp2p over plain TCP starts with multistream's length-prefixed `/multistream/1.0.0`, whose
 * first byte is 0x13, never `G`). Otherwise every byte goes straight through, unchanged.
 */
import { WsError } from '../errors.js'
import { errorEvent } from '../trace/dissect.js'
import type { Dissector, Emit } from '../trace/dissect.js'
import type { TraceDirection } from '../trace/observer.js'
import { Opcode } from '../transport/ws/constants.js'
import { findHeadEnd } from '../transport/ws/handshake.js'
import { Receiver } from '../transport/ws/receiver.js'

const GET = [0x47, 0x45, 0x54, 0x20]

export class WsSniffingDissector implements Dissector {
  private mode: 'unknown' | 'ws' | 'plain' = 'unknown'
  private readonly head: Record<TraceDirection, Uint8Array | undefined> = {
    in: new Uint8Array(0),
    out: new Uint8Array(0)
  }

  private readonly receivers: Record<TraceDirection, Receiver>
  private readonly failed: Record<TraceDirection, boolean> = { in: false, out: false }
  private time = 0

  constructor (private readonly emit: Emit, private readonly next: Dissector) {
    const receiver = (dir: TraceDirection): Receiver =>
      new Receiver({
        onHeader: h =>
          this.emit({
            layer: 'ws',
            kind: 'frame',
            dir,
            opcode: Opcode[h.opcode] ?? `0x${h.opcode.toString(16)}`,
            length: h.length,
            fin: h.fin,
            masked: h.masked
          }, this.time),
        onPayload: (_h, piece) => this.next.push(dir, piece, this.time),
        onFrameEnd: () => {},
        onControl: () => {}
      }, { expectMasked: dir === 'out' }) // 'out' is the dialer (client): its frames are masked (§5.1)
    this.receivers = { in: receiver('in'), out: receiver('out') }
  }

  /** True once the connection was recognised as WebSocket. */
  get isWebSocket (): boolean { return this.mode === 'ws' }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.mode === 'unknown') {
      this.mode = dir === 'out' && bytes.length >= 4 && GET.every((b, i) => bytes[i] === b) ? 'ws' : 'plain'
    }
    if (this.mode === 'plain') { this.next.push(dir, bytes, time); return }
    this.time = time
    const pending = this.head[dir]
    if (pending !== undefined) {
      const all = new Uint8Array(pending.length + bytes.length)
      all.set(pending)
      all.set(bytes, pending.length)
      const end = findHeadEnd(all)
      if (end < 0) { this.head[dir] = all; return }
      this.head[dir] = undefined
      this.emitHead(dir, all.subarray(0, end), time)
      bytes = all.subarray(end)
    }
    if (bytes.length === 0 || this.failed[dir]) return
    try {
      // A copy: the receiver unmasks in place, and the capture's buffers are not ours.
      this.receivers[dir].push(bytes.slice())
    } catch (err) {
      this.failed[dir] = true
      this.emit(errorEvent('ws', err instanceof WsError ? err : new WsError('ERR_WS_PROTOCOL', String(err))), time)
    }
  }

  private emitHead (dir: TraceDirection, head: Uint8Array, time: number): void {
    let text = ''
    for (let i = 0; i < head.length; i++) text += String.fromCharCode(head[i] as number)
    const lines = text.split('\r\n\r\n')[0]?.split('\r\n') ?? []
    this.emit({
      layer: 'ws',
      kind: 'upgrade',
      dir,
      startLine: lines[0] ?? '',
      headers: lines.slice(1),
      length: head.length,
      bytes: head
    }, time)
  }
}
