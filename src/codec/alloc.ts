/**
 * Uninitialised byte buffers from Node's pooled allocator: several times faster than
 * `new Uint8Array(n)` for small sizes. Only for buffers the caller overwrites completely.
 * Returned as a plain Uint8Array view (not a Buffer) so that no Buffer type leaks through the API.
 */
export function allocUnsafe (size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size)
  return new Uint8Array(b.buffer, b.byteOffset, size)
}
