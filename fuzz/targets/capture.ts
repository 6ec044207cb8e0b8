/**
 * Targets: the pcap/pcapng readers and the capture decoder (src/capture), seeded with the committed
 * captures (their first 4 KiB: a handshake and the first frames, which keeps the corpus small).
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { decodeCapture } from '../../src/capture/decode-capture.js'
import { readCapture } from '../../src/capture/pcap.js'
import type { FuzzTarget } from '../engine.js'

/** The repository root (this file runs from fuzz/ under vitest and from dist/fuzz/ when built). */
function repoRoot (): string {
  let d = import.meta.dirname
  while (!existsSync(join(d, 'package.json'))) d = dirname(d)
  return d
}

const captures = (): Uint8Array[] => ['tutorial-yamux', 'sw-go', 'sw-rust']
  .map(n => join(repoRoot(), 'test', 'wireshark', 'fixtures', `${n}.pcapng`))
  .filter(existsSync)
  .map(f => Uint8Array.from(readFileSync(f)))

export const targets: FuzzTarget[] = [
  {
    name: 'capture/readers',
    seeds: captures,
    maxLength: 4096,
    run: data => { for (const p of readCapture(data)) void p }
  },
  {
    name: 'capture/decode',
    seeds: captures,
    maxLength: 4096,
    run: data => { decodeCapture(data) }
  }
]
