/** Shared helpers for the switch integration tests (loopback TCP only). */
import { newStandardSwitch, standardLayers, Switch } from '../../src/index.js'
import type { StandardSwitchOptions } from '../../src/index.js'

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Creates switches and stops every one of them after the test. */
export class Fleet {
  private readonly all: Switch[] = []

  /** A started `newStandardSwitch` (identify + ping). */
  async standard (options: StandardSwitchOptions = {}): Promise<Switch> {
    const sw = newStandardSwitch({ log: () => {}, ...options })
    this.all.push(sw)
    await sw.start()
    return sw
  }

  /** A started bare switch (the standard layers: TCP, Noise, yamux + mplex; nothing mounted). */
  async bare (options: StandardSwitchOptions = {}): Promise<Switch> {
    const sw = new Switch(standardLayers({ log: () => {}, ...options }))
    this.all.push(sw)
    await sw.start()
    return sw
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.all.splice(0).map(s => s.stop()))
  }
}

export { waitFor } from '../helpers/wait.js'

/** A promise with its resolve function (a gate a handler can wait on). */
export function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}

/** A loopback TCP port nobody listens on (bound, then released). */
export async function closedPort (): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}
