/**
 * The saved corpus and findings. A target's corpus is one text file, one input per line in hex
 * (`fuzz/corpus/codec_varint.hex`), so it diffs and merges as text; a finding is the input
 * (`fuzz/findings/<target>/<kind>-<id>.bin`) plus a `.txt` with the error and how to replay it.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Finding } from './engine.js'
import { inputId } from './engine.js'

export const fileName = (target: string): string => target.replace(/[^a-z0-9-]+/gi, '_')

export function loadCorpus (dir: string, target: string): Uint8Array[] {
  const file = join(dir, `${fileName(target)}.hex`)
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter(l => /^[0-9a-f]*$/.test(l) && l.length > 0).map(l =>
    Uint8Array.from(Buffer.from(l, 'hex'))
  )
}

export function appendCorpus (dir: string, target: string, input: Uint8Array): void {
  mkdirSync(dir, { recursive: true })
  appendFileSync(join(dir, `${fileName(target)}.hex`), `${Buffer.from(input).toString('hex')}\n`)
}

export function writeCorpus (dir: string, target: string, inputs: readonly Uint8Array[]): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${fileName(target)}.hex`), inputs.map(i => `${Buffer.from(i).toString('hex')}\n`).join(''))
}

export function saveFinding (dir: string, f: Finding): string {
  const d = join(dir, fileName(f.target))
  mkdirSync(d, { recursive: true })
  const base = join(d, `${f.kind}-${inputId(f.input)}`)
  writeFileSync(`${base}.bin`, f.input)
  writeFileSync(`${base}.txt`, [
    `target: ${f.target}`,
    `kind: ${f.kind}`,
    `signature: ${f.signature}`,
    `input (${f.input.length} bytes): ${Buffer.from(f.input).toString('hex')}`,
    `replay: npm run fuzz -- --target ${f.target} --reproduce ${base}.bin`,
    '',
    f.stack
  ].join('\n'))
  return `${base}.bin`
}
