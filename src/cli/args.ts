/**
 * The CLI's argument grammar, shared with the go and rust interop peers (interop/go/main.go,
 * interop/rust/src/args.rs): a command word, positional arguments, and options written
 * `--name value` or `--name=value` anywhere after the command. Flags (`--force`) take no value;
 * `--trace` takes an optional one (`--trace=hex`, never a separate word).
 *
 * Everything here is pure: parse errors are `UsageError`s (exit status 2), nothing is printed.
 */
import { SwitchyardError, toError } from '../errors.js'
import { SECURITY, TRANSPORTS } from '../standard.js'
import type { SecurityName } from '../standard.js'
import { Multiaddr } from '../transport/multiaddr.js'
import { PeerId } from '../security/peer-id.js'

/** A bad command line: printed as one line, exit status 2. */
export class UsageError extends SwitchyardError {
  constructor (message: string) {
    super('ERR_USAGE', message)
  }
}

/** `value`: `--name v` or `--name=v`; `flag`: `--name` alone; `optional`: `--name` or `--name=v`. */
export type OptionKind = 'value' | 'flag' | 'optional'

export interface OptionSpec {
  readonly name: string
  readonly kind: OptionKind
  /** May be given more than once (every value is kept, in order). */
  readonly repeatable?: boolean
}

export interface ParsedArgs {
  readonly positional: string[]
  /** Values of each option given, in order; a flag (or `--trace` without `=`) records `''`. */
  readonly options: Map<string, string[]>
  /** `--help` or `-h` appeared. */
  readonly help: boolean
}

/**
 * Split `argv` (the words after the command) into positionals and options. Unknown options, a
 * missing value, a value given to a flag and a repeated non-repeatable option are UsageErrors.
 */
export function parseArgs (argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byName = new Map(specs.map(s => [s.name, s]))
  const positional: string[] = []
  const options = new Map<string, string[]>()
  let help = false
  let onlyPositional = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (onlyPositional || !arg.startsWith('-') || arg === '-') {
      positional.push(arg)
      continue
    }
    if (arg === '--') { onlyPositional = true; continue }
    if (arg === '--help' || arg === '-h') { help = true; continue }
    if (!arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`)
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    const inline = eq < 0 ? undefined : arg.slice(eq + 1)
    const spec = byName.get(name)
    if (spec === undefined) throw new UsageError(`unknown option --${name}`)
    let value: string
    switch (spec.kind) {
      case 'flag':
        if (inline !== undefined) throw new UsageError(`option --${name} takes no value, got ${JSON.stringify(inline)}`)
        value = ''
        break
      case 'optional':
        value = inline ?? ''
        break
      case 'value':
        if (inline !== undefined) {
          value = inline
        } else {
          const next = argv[i + 1]
          if (next === undefined) throw new UsageError(`option --${name} needs a value`)
          value = next
          i++
        }
        if (value === '') throw new UsageError(`option --${name} needs a non-empty value`)
        break
    }
    const list = options.get(name)
    if (list === undefined) options.set(name, [value])
    else if (spec.repeatable === true) list.push(value)
    else throw new UsageError(`option --${name} given more than once`)
  }
  return { positional, options, help }
}

/** The value of a single-valued option, or undefined when absent. */
export function optionValue (args: ParsedArgs, name: string): string | undefined {
  return args.options.get(name)?.[0]
}

/**
 * An unsigned decimal integer option within [min, max] (max ≤ 2^53−1), `def` when absent and not
 * required. Only digits are accepted: no sign, exponent, fraction, hex or whitespace.
 */
export function uintOption (args: ParsedArgs, name: string, opts: { min: number, max: number, def?: number }): number {
  const raw = optionValue(args, name)
  if (raw === undefined) {
    if (opts.def === undefined) throw new UsageError(`option --${name} is required`)
    return opts.def
  }
  if (!/^[0-9]+$/.test(raw)) {
    throw new UsageError(`option --${name} expects an unsigned integer, got ${JSON.stringify(raw)}`)
  }
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) {
    throw new UsageError(`option --${name} expects an integer from ${opts.min} to ${opts.max}, got ${raw}`)
  }
  return n
}

/**
 * `--security noise,tls`: security protocols in preference order, each a name of the registry
 * (src/standard.ts SECURITY). Absent: `def` with the names not registered left out. An unknown
 * name, an empty entry or a name given twice is a UsageError.
 */
export function securityOption (args: ParsedArgs, def: readonly string[]): SecurityName[] {
  const known = Object.keys(SECURITY)
  const isKnown = (n: string): n is SecurityName => known.includes(n)
  const raw = optionValue(args, 'security')
  if (raw === undefined) return def.filter(isKnown)
  const names = raw.split(',').map(n => n.trim())
  const out: SecurityName[] = []
  for (const n of names) {
    if (n === '') {
      throw new UsageError(
        `option --security expects a comma-separated list of ${known.join(', ')}, got ${JSON.stringify(raw)}`
      )
    }
    if (!isKnown(n)) {
      throw new UsageError(
        `option --security: unknown security protocol ${JSON.stringify(n)} (available: ${known.join(', ')})`
      )
    }
    if (out.includes(n)) throw new UsageError(`option --security lists ${n} twice`)
    out.push(n)
  }
  return out
}

/** A peer to dial: its id and the TCP address to reach it (the `/p2p/<id>` suffix stripped). */
export interface Target {
  readonly peerId: PeerId
  readonly addr: Multiaddr
  /** The multiaddr as given. */
  readonly text: string
}

/**
 * `<multiaddr>/p2p/<peerId>` → Target. UsageError for text that is not a multiaddr, a missing
 * `/p2p/<id>`, an invalid peer id, or an address no registered transport can dial (TCP, WS, QUIC).
 */
export function parseTarget (text: string): Target {
  let ma: Multiaddr
  try {
    ma = Multiaddr.parse(text)
  } catch (err) {
    throw new UsageError(oneLine(toError(err).message))
  }
  const id = ma.peerId()
  if (id === undefined) throw new UsageError(`multiaddr ${JSON.stringify(text)} must end with /p2p/<peerId>`)
  let peerId: PeerId
  try {
    peerId = PeerId.parse(id)
  } catch (err) {
    throw new UsageError(`multiaddr ${JSON.stringify(text)}: invalid peer id: ${oneLine(toError(err).message)}`)
  }
  const addr = ma.withoutPeerId()
  try {
    // a registered transport that can dial it (QUIC's /udp/N/quic-v1), else the TCP form's error
    if (!Object.values(TRANSPORTS).some(make => make({}).canDial(addr))) addr.toNodeAddress()
  } catch (err) {
    throw new UsageError(oneLine(toError(err).message))
  }
  return { peerId, addr, text }
}

/** A listen address: a TCP multiaddr without `/p2p`. */
export function parseListenAddr (text: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = Multiaddr.parse(text)
    // a registered transport that can listen on it (QUIC's /udp/N/quic-v1), else the TCP form's error
    const parsed = ma
    if (!Object.values(TRANSPORTS).some(make => make({}).canListen(parsed))) ma.toNodeAddress()
  } catch (err) {
    throw new UsageError(`--listen: ${oneLine(toError(err).message)}`)
  }
  if (ma.peerId() !== undefined) {
    throw new UsageError(`--listen: expected an address without /p2p/<peerId>, got ${text}`)
  }
  return ma
}

/** Error text on one line (the CLI's error contract: one line, never a stack trace). */
export function oneLine (text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
