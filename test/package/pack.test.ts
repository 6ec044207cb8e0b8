/**
 * The layers as a library: `npm pack` the built package, install the tarball into a fresh project
 * offline, and use it the way a user does — every `exports` subpath imported at run time,
 * type-checked against the shipped `.d.ts`, and every docs/examples/*.ts compiled against the
 * installed package and run. The tarball carries the compiled src (types, source maps), README and
 * docs; nothing of test/, interop/, bench/ or .ci/.
 *
 * Offline: the package's runtime dependencies are copied from this checkout's node_modules (what
 * `npm ci` installed), then `npm install --offline` adds the tarball itself.
 */
import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildToTemp, ROOT } from '../cli/build.js'
import type { Build } from '../cli/build.js'

interface Run { code: number | null, stdout: string, stderr: string }

async function run (cmd: string, args: readonly string[], cwd: string): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' } })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    p.on('error', reject)
    p.on('close', code => { resolve({ code, stdout, stderr }) })
  })
}

async function ok (cmd: string, args: readonly string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string, version: string, exports: Record<string, unknown>, files: string[], dependencies: Record<string, string>
}
const subpaths = Object.keys(pkg.exports).filter(k => k !== './package.json')
const specifier = (k: string): string => k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`
const examples = (await readdir(join(ROOT, 'docs/examples'))).filter(f => f.endsWith('.ts')).sort()
/** What each example must print (a new example needs its line here). */
const PRINTS: Record<string, RegExp> = {
  'codec.ts': /^varint 300 = ac02, decodes to 300$/m,
  'multistream.ts': /^listener -> "na\\n"$[\s\S]*^agreed on \/tls\/1\.0\.0$/m,
  'muxers.ts':
    /^yamux: stream 1: hello 1; stream 3: hello 2; stream 5: hello 3$[\s\S]*^mplex: stream 0: hello 1; stream 1: hello 2; stream 2: hello 3$/m,
  'noise-xx.ts': /^message 2 responder -> initiator: e, ee, s, es \(\d+ bytes\)$[\s\S]*same handshake hash: true$/m,
  'switch-trace.ts': /<- identify \(\d+ B\)\n\s+protocolVersion[\s\S]*^ping: 1 round trip\(s\)$/m,
  'tls.ts':
    /^client authenticated 12D3KooW\w+, muxer by ALPN: \/yamux\/1\.0\.0$[\s\S]*^server read: hello over TLS 1\.3$/m,
  'ws.ts': /^echoed: hello over \/ws$/m
}

let build: Build | undefined
let work = ''
let consumer = ''
let packed: Array<{ path: string }> = []

beforeAll(async () => {
  build = await buildToTemp(['src/index.js', 'src/cli.js'])
  work = await mkdtemp(join(tmpdir(), 'switchyard-pack-'))
  const stage = join(work, 'stage')
  await mkdir(stage)
  for (const f of ['package.json', 'README.md', 'docs']) await cp(join(ROOT, f), join(stage, f), { recursive: true })
  await cp(join(build.dir, 'src'), join(stage, 'dist/src'), { recursive: true })
  const json = await ok('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage)
  packed = (JSON.parse(json) as Array<{ files: Array<{ path: string }> }>)[0]?.files ?? []

  consumer = join(work, 'consumer')
  await mkdir(join(consumer, 'examples'), { recursive: true })
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  for (const dep of Object.keys(pkg.dependencies)) {
    await cp(join(ROOT, 'node_modules', dep), join(consumer, 'node_modules', dep), { recursive: true })
  }
  await ok('npm', [
    'install',
    '--offline',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
    join(work, `${pkg.name}-${pkg.version}.tgz`)
  ], consumer)

  // Every subpath, imported by name; plus the examples, as a user would copy them.
  const lines = subpaths.map((k, i) => `import * as m${i} from '${specifier(k)}'`)
  lines.push(`const all: Record<string, object> = { ${subpaths.map((k, i) => `'${specifier(k)}': m${i}`).join(', ')} }`)
  // A template literal in the generated file, not in this one.
  // eslint-disable-next-line no-template-curly-in-string
  lines.push('for (const [name, m] of Object.entries(all)) console.log(`${name} ${Object.keys(m).length}`)')
  await writeFile(join(consumer, 'imports.ts'), lines.join('\n') + '\n')
  for (const e of examples) await cp(join(ROOT, 'docs/examples', e), join(consumer, 'examples', e))
  await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      outDir: 'out',
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
      skipLibCheck: false
    },
    include: ['imports.ts', 'examples']
  }))
}, 300_000)

afterAll(async () => {
  await build?.remove()
  if (work !== '') await rm(work, { recursive: true, force: true })
})

describe('npm pack → install → use', () => {
  it('the tarball holds the compiled src with types and source maps, README and docs, nothing else', () => {
    const paths = packed.map(f => f.path)
    expect(paths).toContain('package.json')
    expect(paths).toContain('README.md')
    expect(paths).toContain('dist/src/index.js')
    expect(paths).toContain('dist/src/index.d.ts')
    expect(paths).toContain('dist/src/index.js.map')
    expect(paths).toContain('dist/src/cli.js')
    for (const k of subpaths) {
      const target = pkg.exports[k] as { types: string, import: string }
      expect(paths).toContain(target.types.slice(2))
      expect(paths).toContain(target.import.slice(2))
    }
    const stray = paths.filter(p =>
      !(p.startsWith('dist/src/') || p.startsWith('docs/') || ['package.json', 'README.md', 'LICENSE'].includes(p))
    )
    expect(stray).toEqual([])
  })

  it('tsconfig.json maps each subpath to the same source as package.json exports (what the in-repo type-check uses)', async () => {
    const paths =
      (JSON.parse(await readFile(join(ROOT, 'tsconfig.json'), 'utf8')) as {
        compilerOptions: { paths: Record<string, string[]> }
      }).compilerOptions.paths
    const expected = Object.fromEntries(
      subpaths.map(
        k => [specifier(k), [
          (pkg.exports[k] as { import: string }).import.replace('./dist/src/', './src/').replace(/\.js$/, '.ts')
        ]]
      )
    )
    expect(paths).toEqual(expected)
  })

  it(
    'the installed package type-checks (imports of every subpath, docs/examples) and every subpath imports at run time',
    async () => {
      await ok(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', consumer], consumer)
      const out = await ok(process.execPath, ['out/imports.js'], consumer)
      for (const k of subpaths) expect(out).toMatch(new RegExp(`^${specifier(k)} [1-9]\\d*$`, 'm'))
    },
    120_000
  )

  it.each(examples)('docs/examples/%s runs against the installed package', async (example) => {
    const r = await run(process.execPath, [`out/examples/${example.replace(/\.ts$/, '.js')}`], consumer)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(PRINTS[example] ?? /an expected output line in PRINTS/)
  }, 60_000)
})
