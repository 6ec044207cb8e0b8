/**
 * Waiting on state, not on time: a test that must see a condition polls it (bounded, named), and a
 * test that must prove something did NOT happen first waits for an event that shows the moment has
 * passed (bytes arrived, a frame was answered), then asserts.
 */

/** Resolve when `predicate` holds, polling every 5 ms; reject after `timeoutMs` naming `what`. */
export async function waitFor (what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** `p`, or a rejection naming `what` after `ms` (so a hung test says what hung). */
export async function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what}: no result within ${ms} ms`))
        }, ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}
