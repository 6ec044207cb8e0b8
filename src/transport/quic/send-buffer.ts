/**
 * One stream's (or CRYPTO level's) send side (RFC 9000 §2.2, §3.1, §13.3): bytes written by the
 * application wait here until acknowledged. `nextFrame` returns the next range to send: lost ranges
 * first (retransmission, §13.3: "retransmitted in a new frame"), then new data up to the offset
 * flow control allows. ACKs and losses come back as ranges; memory is released once a prefix is
 * acknowledged.
 *
 *   0 ……… ackedOffset ……… sendOffset ……… writtenOffset
 *   (released)  │ in flight or lost │ not yet sent │
 */
import { concatBytes } from '../../codec/bytes.js'

/** RFC 9000 §3.1 sending states. */
export type SendState = 'Ready' | 'Send' | 'DataSent' | 'DataRecvd' | 'ResetSent' | 'ResetRecvd'

interface Range { start: number, end: number }

export interface OutgoingData { offset: number, data: Uint8Array, fin: boolean }

export class SendBuffer {
  state: SendState = 'Ready'
  /** Everything below is acknowledged and released. */
  ackedOffset = 0
  sendOffset = 0
  writtenOffset = 0
  /** Set by `finish()`: the final size. */
  finalSize: number | undefined
  private finSent = false
  private finAcked = false
  /** Written bytes from ackedOffset on (chunks in order, views kept as given). */
  private readonly chunks: Uint8Array[] = []
  private chunksStart = 0
  /** Lost ranges to send again, ascending. */
  private readonly retransmit: Range[] = []
  /** Acknowledged ranges above ackedOffset. */
  private readonly ackedAbove: Range[] = []

  /** Bytes held (unacknowledged). */
  get buffered (): number { return this.writtenOffset - this.ackedOffset }

  /** Bytes written and never sent (what waits for flow control or the congestion window). */
  get unsent (): number { return this.writtenOffset - this.sendOffset }

  write (data: Uint8Array): void {
    if (this.finalSize !== undefined) throw new RangeError('write after finish')
    if (data.length === 0) return
    this.chunks.push(data)
    this.writtenOffset += data.length
  }

  /** Close the sending side (FIN once everything before it is sent). */
  finish (): void {
    if (this.finalSize === undefined) this.finalSize = this.writtenOffset
  }

  /** Is there something to send given the flow-control limit `maxOffset`? */
  hasPending (maxOffset: number): boolean {
    if (this.state === 'ResetSent' || this.state === 'ResetRecvd') return false
    this.trimRetransmit()
    if (this.retransmit.length > 0) return true
    if (this.sendOffset < Math.min(this.writtenOffset, maxOffset)) return true
    return this.finalSize !== undefined && !this.finSent && this.sendOffset === this.finalSize
  }

  /**
   * The next frame's data: at most `maxBytes`, never beyond `maxOffset` (flow control; retransmits
   * are below it already). Undefined when nothing can go.
   */
  nextFrame (maxBytes: number, maxOffset: number): OutgoingData | undefined {
    if (this.state === 'ResetSent' || this.state === 'ResetRecvd') return undefined
    this.trimRetransmit()
    const r = this.retransmit[0]
    if (r !== undefined) {
      const end = Math.min(r.end, r.start + maxBytes)
      const out = { offset: r.start, data: this.slice(r.start, end), fin: this.finalSize === end && this.finSent }
      if (end === r.end) this.retransmit.shift()
      else r.start = end
      return out
    }
    const limit = Math.min(this.writtenOffset, maxOffset, this.sendOffset + maxBytes)
    const fin = this.finalSize !== undefined && limit === this.finalSize
    if (limit <= this.sendOffset && !(fin && !this.finSent)) return undefined
    const out = { offset: this.sendOffset, data: this.slice(this.sendOffset, limit), fin }
    this.sendOffset = limit
    if (fin) { this.finSent = true; this.state = 'DataSent' } else if (this.state === 'Ready') this.state = 'Send'
    return out
  }

  /**
   * An ACK may arrive after its packet was declared lost (a spurious loss: reordering, delay): the
   * released prefix is not sent again — its bytes are gone, and a frame built from them would come
   * out short, its FIN at the wrong offset. A FIN-only range stays until the FIN is acknowledged.
   */
  private trimRetransmit (): void {
    while (this.retransmit.length > 0) {
      const r = this.retransmit[0] as Range
      if (r.start < this.ackedOffset) r.start = Math.min(this.ackedOffset, r.end)
      if (r.start < r.end || (r.end === this.finalSize && !this.finAcked)) return
      this.retransmit.shift()
    }
  }

  /** A copy-free view when the range lies in one chunk, else one gathered copy. */
  private slice (start: number, end: number): Uint8Array {
    if (start === end) return new Uint8Array(0)
    const parts: Uint8Array[] = []
    let at = this.chunksStart
    for (const c of this.chunks) {
      const cEnd = at + c.length
      if (cEnd > start && at < end) parts.push(c.subarray(Math.max(0, start - at), Math.min(c.length, end - at)))
      if (cEnd >= end) break
      at = cEnd
    }
    return concatBytes(parts)
  }

  /** Data [offset, offset+length) (and the FIN with it) was acknowledged. */
  onAcked (offset: number, length: number, fin: boolean): void {
    if (fin) this.finAcked = true
    addRange(this.ackedAbove, offset, offset + length)
    const first = this.ackedAbove[0]
    if (first !== undefined && first.start <= this.ackedOffset) {
      this.ackedOffset = Math.max(this.ackedOffset, first.end)
      this.ackedAbove.shift()
      this.release()
    }
    if (
      this.finAcked && this.finalSize !== undefined && this.ackedOffset >= this.finalSize && this.state === 'DataSent'
    ) this.state = 'DataRecvd'
  }

  /** Data [offset, offset+length) was lost: send again what is not acknowledged meanwhile. */
  onLost (offset: number, length: number, fin: boolean): void {
    if (this.state === 'ResetSent' || this.state === 'ResetRecvd') return
    let start = Math.max(offset, this.ackedOffset)
    const end = offset + length
    for (const a of this.ackedAbove) {
      if (a.end <= start || a.start >= end) continue
      if (a.start > start) addRange(this.retransmit, start, a.start)
      start = Math.max(start, a.end)
    }
    if (start < end) addRange(this.retransmit, start, end)
    // a lost FIN whose data was acknowledged goes again as an empty frame at the final size
    else if (fin && !this.finAcked) addRange(this.retransmit, end, end)
  }

  private release (): void {
    while (this.chunks.length > 0 && this.chunksStart + (this.chunks[0] as Uint8Array).length <= this.ackedOffset) {
      this.chunksStart += (this.chunks.shift() as Uint8Array).length
    }
  }

  /** RESET_STREAM sent (§3.1): forget everything; the final size is what was sent. */
  reset (): number {
    this.state = 'ResetSent'
    this.chunks.length = 0
    this.retransmit.length = 0
    return this.sendOffset
  }
}

function addRange (rs: Range[], start: number, end: number): void {
  let i = 0
  while (i < rs.length && (rs[i] as Range).end < start) i++
  let s = start
  let e = end
  while (i < rs.length && (rs[i] as Range).start <= e) {
    s = Math.min(s, (rs[i] as Range).start)
    e = Math.max(e, (rs[i] as Range).end)
    rs.splice(i, 1)
  }
  rs.splice(i, 0, { start: s, end: e })
}
