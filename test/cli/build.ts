/**
 * Build the project into a private temporary directory for tests that run the compiled CLI and
 * examples, so parallel test files and engineers never trample `dist/`. Node resolves packages
 * through a `node_modules` symlink to the checkout's, and a `package.json` marks the output ESM.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')

export interface Build {
  /** The output directory (mirrors the checkout: `src/cli.js`, `examples/…`). */
  dir: string
  remove: () => Promise<void>
}

/**
 * `tsc -p tsconfig.build.json --outDir <tmp>`. Files other engineers are still writing may have
 * type errors; tsc emits regardless, so success is judged by the files this test needs.
 */
export async function buildToTemp (needed: readonly string[]): Promise<Build> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-build-'))
  const remove = async (): Promise<void> => { await rm(dir, { recursive: true, force: true }) }
  try {
    const output = await new Promise<string>((_resolve, reject) => {
      const tsc = spawn(process.execPath, [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--outDir',
        dir
      ], { cwd: ROOT })
      let text = ''
      tsc.stdout.on('data', (b: Buffer) => { text += b.toString() })
      tsc.stderr.on('data', (b: Buffer) => { text += b.toString() })
      tsc.on('error', reject)
      tsc.on('close', () => { _resolve(text) })
    })
    const missing = needed.filter(f => !existsSync(join(dir, f)))
    if (missing.length > 0) throw new Error(`build did not produce ${missing.join(', ')}:\n${output.slice(0, 4000)}`)
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    return { dir, remove }
  } catch (err) {
    await remove()
    throw err
  }
}
