/** Helpers shared by the fuzz targets. */

const te = new TextEncoder()
export const utf8 = (s: string): Uint8Array => te.encode(s)

export function concat (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/**
 * The input as the chunks a socket would deliver: byte 0 chooses the cut (even: one chunk;
 * odd: pieces of 1…64 bytes), so the fuzzer explores incremental decoding too. Seeds built with
 * `whole()` are delivered in one chunk.
 */
export function chunks (data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return []
  const mode = data[0] as number
  const rest = data.subarray(1)
  if ((mode & 1) === 0) return [rest]
  const size = 1 + ((mode >> 1) % 64)
  const out: Uint8Array[] = []
  for (let i = 0; i < rest.length; i += size) out.push(rest.subarray(i, i + size))
  return out
}

/** A seed delivered in one chunk (see `chunks`). */
export function whole (...parts: Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(0), ...parts)
}

/** A seed delivered in pieces of `size` bytes (1…64). */
export function pieces (size: number, ...parts: Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(((size - 1) << 1) | 1), ...parts)
}

/** A fixed clock for sans-I/O machines (deterministic runs). */
export function fixedClock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000_000
  return { now: () => t, advance: (ms: number) => { t += ms } }
}

/** A deterministic byte source (for machines that take injected randomness). */
export function counterRandom (): (n: number) => Uint8Array {
  let c = 1
  return (n: number) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = (c = (c * 1103515245 + 12345) >>> 0) >>> 24
    return out
  }
}
