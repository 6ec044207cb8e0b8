// Naive mplex frame codec (bigint varints, whole-buffer parsing), the reference the fast codec and
// the incremental decoder are checked against. Written straight from mplex README §Message format.
import { refDecode, refEncode } from '../../reference/varint.js'

export interface RefFrame { streamId: number, flag: number, data: Uint8Array }

export function refEncodeFrame (f: RefFrame): Uint8Array {
  const header = refEncode(BigInt(f.streamId) * 8n + BigInt(f.flag))
  const length = refEncode(BigInt(f.data.length))
  const out = new Uint8Array(header.length + length.length + f.data.length)
  out.set(header, 0)
  out.set(length, header.length)
  out.set(f.data, header.length + length.length)
  return out
}

/**
 * Parse a whole buffer. Returns the frames and whether the buffer ended mid-frame, or throws a
 * string-carrying Error for a malformed frame (flag 7, length > max, bad varint).
 */
export function refDecodeAll (
  buf: Uint8Array,
  max: number,
  maxFrames = Infinity
): { frames: RefFrame[], partial: boolean } {
  const frames: RefFrame[] = []
  let off = 0
  while (off < buf.length && frames.length < maxFrames) {
    const [h, hl] = refDecode(buf, off)
    if (hl === 0) return { frames, partial: true }
    if (h > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('unsafe')
    const flag = Number(h & 7n)
    if (flag === 7) throw new Error('flag 7')
    const [len, ll] = refDecode(buf, off + hl)
    if (ll === 0) return { frames, partial: true }
    if (len > BigInt(max)) throw new Error('too large')
    const start = off + hl + ll
    const end = start + Number(len)
    if (end > buf.length) return { frames, partial: true }
    frames.push({ streamId: Number(h >> 3n), flag, data: buf.slice(start, end) })
    off = end
  }
  return { frames, partial: false }
}
