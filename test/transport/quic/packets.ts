/** Hand-made packets for tests: headers of versions we do not speak. */

/** A long header of `version` with the given ids, padded to `size` bytes (RFC 8999 invariants only). */
export function foreignLongHeader (version: number, dcid: Uint8Array, scid: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size)
  out[0] = 0xc0
  new DataView(out.buffer).setUint32(1, version)
  out[5] = dcid.length
  out.set(dcid, 6)
  out[6 + dcid.length] = scid.length
  out.set(scid, 7 + dcid.length)
  return out
}
