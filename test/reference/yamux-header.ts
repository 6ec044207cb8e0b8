/**
 * A deliberately naive yamux header codec (DataView, no shortcuts), used only to cross-check
 * src/muxer/frame.ts in tests and benchmarks (STYLE 10).
 */
export interface RefHeader { version: number, type: number, flags: number, streamId: number, length: number }

export function refEncode (h: RefHeader): Uint8Array {
  const out = new Uint8Array(12)
  const v = new DataView(out.buffer)
  v.setUint8(0, h.version)
  v.setUint8(1, h.type)
  v.setUint16(2, h.flags, false)
  v.setUint32(4, h.streamId, false)
  v.setUint32(8, h.length, false)
  return out
}

export function refDecode (buf: Uint8Array, offset = 0): RefHeader {
  const v = new DataView(buf.buffer, buf.byteOffset + offset, 12)
  return {
    version: v.getUint8(0),
    type: v.getUint8(1),
    flags: v.getUint16(2, false),
    streamId: v.getUint32(4, false),
    length: v.getUint32(8, false)
  }
}
