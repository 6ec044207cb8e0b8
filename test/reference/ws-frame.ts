/**
 * Naive RFC 6455 §5.2 frame writer for tests: a DataView, a bigint for the 64-bit length, masking
 * byte by byte. The cross-check for src/transport/ws/frame.ts (same bytes for the same frame).
 */
export interface RefFrame {
  fin: boolean
  rsv?: number
  opcode: number
  payload: Uint8Array
  maskKey?: Uint8Array
  /** Force a length encoding (7, 16 or 64 bits) even where a shorter one fits (non-minimal). */
  lengthBits?: 7 | 16 | 64
}

export function refEncode (f: RefFrame): Uint8Array {
  const len = f.payload.length
  const bits = f.lengthBits ?? (len <= 125 ? 7 : len <= 0xffff ? 16 : 64)
  const ext = bits === 7 ? 0 : bits === 16 ? 2 : 8
  const maskLen = f.maskKey === undefined ? 0 : 4
  const out = new Uint8Array(2 + ext + maskLen + len)
  const dv = new DataView(out.buffer)
  dv.setUint8(0, (f.fin ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode)
  const code = bits === 7 ? len : bits === 16 ? 126 : 127
  dv.setUint8(1, (f.maskKey === undefined ? 0 : 0x80) | code)
  if (bits === 16) dv.setUint16(2, len)
  if (bits === 64) dv.setBigUint64(2, BigInt(len))
  const p = 2 + ext
  if (f.maskKey !== undefined) out.set(f.maskKey, p)
  for (let i = 0; i < len; i++) {
    out[p + maskLen + i] = (f.payload[i] as number) ^ (f.maskKey === undefined ? 0 : f.maskKey[i % 4] as number)
  }
  return out
}
