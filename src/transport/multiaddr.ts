/**
 * Multiaddrs for TCP (multiformats/multiaddr README + protocols.csv; libp2p/specs
 * addressing/README.md).
 *
 *   text:   (/<name>/<value>)+        e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…
 *   binary: (<uvarint code><value>)+  fixed-size values raw; variable-size ("V") values are
 *                                     uvarint(len) ‖ bytes
 *
 * Only the protocols a TCP stack meets are known (see PROTOCOLS); anything else is a MultiaddrError
 * naming the component, never a silent pass-through: an unknown binary code cannot be skipped
 * because its value size is unknown.
 *
 * `/p2p/<id>` carries the peer id's multihash bytes. Its text is base58btc (`Qm…`, `12D3KooW…`) or a
 * CIDv1 with the libp2p-key codec (`bafz…`, peer-ids spec §"String representation"); we always
 * print base58btc. `/ipfs/<id>` is parsed as a synonym of `/p2p/<id>` and printed as `/p2p/`.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { MultiaddrError } from '../errors.js'
import { decodeUvarint, encodeUvarintTo, encodingLength } from '../codec/varint.js'

/** multicodec codes (multiformats/multicodec table.csv, multiaddr section). */
export const CODE_IP4 = 4
export const CODE_TCP = 6
export const CODE_UDP = 273
export const CODE_IP6 = 41
export const CODE_IP6ZONE = 42
export const CODE_DNS = 53
export const CODE_DNS4 = 54
export const CODE_DNS6 = 55
export const CODE_DNSADDR = 56
export const CODE_P2P = 421
export const CODE_P2P_CIRCUIT = 290
export const CODE_WS = 477
export const CODE_WSS = 478
export const CODE_QUIC_V1 = 461

/** multicodec `libp2p-key`: the codec of a peer id written as a CIDv1 (peer-ids spec). */
const CODEC_LIBP2P_KEY = 0x72

/** How a protocol's value is carried: fixed byte count, none, or variable (uvarint length prefix). */
type ValueKind = 'ip4' | 'ip6' | 'port' | 'string' | 'peerId' | 'none'

interface ProtocolSpec {
  readonly code: number
  readonly name: string
  readonly kind: ValueKind
  /** Value size in bytes for fixed kinds, -1 for variable, 0 for none. */
  readonly size: number
}

const PROTOCOLS: readonly ProtocolSpec[] = [
  { code: CODE_IP4, name: 'ip4', kind: 'ip4', size: 4 },
  { code: CODE_TCP, name: 'tcp', kind: 'port', size: 2 },
  { code: CODE_UDP, name: 'udp', kind: 'port', size: 2 },
  { code: CODE_IP6, name: 'ip6', kind: 'ip6', size: 16 },
  { code: CODE_IP6ZONE, name: 'ip6zone', kind: 'string', size: -1 },
  { code: CODE_DNS, name: 'dns', kind: 'string', size: -1 },
  { code: CODE_DNS4, name: 'dns4', kind: 'string', size: -1 },
  { code: CODE_DNS6, name: 'dns6', kind: 'string', size: -1 },
  { code: CODE_DNSADDR, name: 'dnsaddr', kind: 'string', size: -1 },
  { code: CODE_P2P, name: 'p2p', kind: 'peerId', size: -1 },
  { code: CODE_P2P_CIRCUIT, name: 'p2p-circuit', kind: 'none', size: 0 },
  { code: CODE_WS, name: 'ws', kind: 'none', size: 0 },
  { code: CODE_WSS, name: 'wss', kind: 'none', size: 0 },
  { code: CODE_QUIC_V1, name: 'quic-v1', kind: 'none', size: 0 }
]

const BY_CODE = new Map<number, ProtocolSpec>(PROTOCOLS.map(p => [p.code, p]))
const BY_NAME = new Map<string, ProtocolSpec>(PROTOCOLS.map(p => [p.name, p]))
// multiaddr README: "/ipfs" is the legacy name of "/p2p"; same code, printed as /p2p.
BY_NAME.set('ipfs', BY_NAME.get('p2p') as ProtocolSpec)

/** One `/<name>/<value>` element. `raw` is the value as it sits on the wire (without a V length prefix). */
export interface MultiaddrComponent {
  readonly code: number
  /** Canonical name (`p2p`, never `ipfs`). */
  readonly name: string
  /** Canonical text of the value; undefined for value-less protocols such as `/p2p-circuit`. */
  readonly value: string | undefined
  readonly raw: Uint8Array
}

/** Address of a TCP endpoint as `node:net` wants it. `family` 0 means "either" (a `/dns` name). */
export interface NodeAddress {
  host: string
  port: number
  family: 0 | 4 | 6
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })
const EMPTY = new Uint8Array(0)

/**
 * An immutable multiaddr. Build one with `Multiaddr.parse(text)`, `Multiaddr.fromBytes(bytes)` or
 * `Multiaddr.fromNodeAddress(host, port)`. `bytes` and `components` must not be mutated.
 */
export class Multiaddr {
  /** The binary form. */
  readonly bytes: Uint8Array
  readonly components: readonly MultiaddrComponent[]
  private text: string | undefined

  private constructor (components: readonly MultiaddrComponent[], bytes?: Uint8Array) {
    this.components = Object.freeze(components.slice())
    this.bytes = bytes ?? encodeComponents(components)
  }

  /** Parse the text form (`/ip4/1.2.3.4/tcp/80`). A single trailing `/` is tolerated. */
  static parse (text: string): Multiaddr {
    if (typeof text !== 'string') throw new TypeError(`"multiaddr" expected a string, got ${typeof text}`)
    if (!text.startsWith('/')) {
      throw new MultiaddrError(`invalid multiaddr ${JSON.stringify(text)}: expected text starting with "/"`)
    }
    const parts = text.split('/')
    // parts[0] is the empty string before the leading '/'; allow one trailing '/'.
    const end = parts.length > 1 && parts[parts.length - 1] === '' ? parts.length - 1 : parts.length
    const components: MultiaddrComponent[] = []
    let i = 1
    while (i < end) {
      const name = parts[i] as string
      const spec = BY_NAME.get(name)
      if (spec === undefined) {
        throw new MultiaddrError(`invalid multiaddr ${JSON.stringify(text)}: unknown protocol "/${name}"`)
      }
      i++
      if (spec.kind === 'none') {
        components.push(Object.freeze({ code: spec.code, name: spec.name, value: undefined, raw: EMPTY }))
        continue
      }
      if (i >= end) {
        throw new MultiaddrError(
          `invalid multiaddr ${JSON.stringify(text)}: component "/${name}" expected a value, got none`
        )
      }
      const value = parts[i] as string
      i++
      components.push(componentFromText(spec, name, value, text))
    }
    return new Multiaddr(components)
  }

  /** Decode the binary form. The bytes are copied, so the caller may reuse its buffer. */
  static fromBytes (bytes: Uint8Array): Multiaddr {
    const copy = bytes.slice()
    return new Multiaddr(decodeComponents(copy), copy)
  }

  /** `/ip4/<host>/tcp/<port>`, `/ip6/…`, or `/dns/<host>/tcp/<port>` for a name. */
  static fromNodeAddress (host: string, port: number): Multiaddr {
    let base: string
    if (isIPv4(host)) base = `/ip4/${host}`
    else if (isIPv6(host)) {
      const zone = host.indexOf('%')
      base = zone < 0 ? `/ip6/${host}` : `/ip6zone/${host.slice(zone + 1)}/ip6/${host.slice(0, zone)}`
    } else base = `/dns/${host}`
    return Multiaddr.parse(`${base}/tcp/${port}`)
  }

  /** Convenience: accept either form. */
  static from (addr: Multiaddr | string | Uint8Array): Multiaddr {
    if (addr instanceof Multiaddr) return addr
    if (typeof addr === 'string') return Multiaddr.parse(addr)
    return Multiaddr.fromBytes(addr)
  }

  toString (): string {
    if (this.text === undefined) {
      this.text = this.components.length === 0
        ? '/'
        : this.components.map(c => c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`).join('')
    }
    return this.text
  }

  toJSON (): string { return this.toString() }

  equals (other: Multiaddr): boolean {
    const a = this.bytes
    const b = other.bytes
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  /** The peer id of the last `/p2p` component as base58btc text, if any. */
  peerId (): string | undefined {
    return this.lastOf(CODE_P2P)?.value
  }

  /** The multihash bytes of the last `/p2p` component's peer id, if any. */
  peerIdMultihash (): Uint8Array | undefined {
    return this.lastOf(CODE_P2P)?.raw
  }

  /** `this` followed by `other`. */
  encapsulate (other: Multiaddr | string): Multiaddr {
    const o = Multiaddr.from(other)
    return new Multiaddr([...this.components, ...o.components])
  }

  /** Everything before the LAST component with `code` (multiaddr README: decapsulation). Unchanged if absent. */
  decapsulateCode (code: number): Multiaddr {
    for (let i = this.components.length - 1; i >= 0; i--) {
      if ((this.components[i] as MultiaddrComponent).code === code) return new Multiaddr(this.components.slice(0, i))
    }
    return this
  }

  /** The address without a trailing `/p2p/<id>` (only when it is the last component). */
  withoutPeerId (): Multiaddr {
    const last = this.components[this.components.length - 1]
    if (last === undefined || last.code !== CODE_P2P) return this
    return new Multiaddr(this.components.slice(0, -1))
  }

  /**
   * The TCP endpoint: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>` at the front of the address
   * (anything after, such as `/p2p/<id>`, is ignored). Throws MultiaddrError for any other shape.
   */
  toNodeAddress (): NodeAddress {
    let i = 0
    let zone: string | undefined
    let first = this.components[0]
    if (first?.code === CODE_IP6ZONE) { zone = first.value; first = this.components[1]; i = 1 }
    const second = this.components[i + 1]
    if (first === undefined || second === undefined || second.code !== CODE_TCP) {
      throw new MultiaddrError(
        `multiaddr ${this.toString()} is not a TCP address: expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`
      )
    }
    const port = Number(second.value)
    switch (first.code) {
      case CODE_IP4:
        return { host: first.value as string, port, family: 4 }
      case CODE_IP6:
        return {
          host: zone === undefined ? first.value as string : `${first.value as string}%${zone}`,
          port,
          family: 6
        }
      case CODE_DNS4:
        if (zone === undefined) return { host: first.value as string, port, family: 4 }
        break
      case CODE_DNS6:
        if (zone === undefined) return { host: first.value as string, port, family: 6 }
        break
      case CODE_DNS:
        if (zone === undefined) return { host: first.value as string, port, family: 0 }
        break
    }
    throw new MultiaddrError(
      `multiaddr ${this.toString()} is not a TCP address: "/${first.name}" cannot carry a TCP host`
    )
  }

  private lastOf (code: number): MultiaddrComponent | undefined {
    for (let i = this.components.length - 1; i >= 0; i--) {
      const c = this.components[i] as MultiaddrComponent
      if (c.code === code) return c
    }
    return undefined
  }
}

/** Shorthand for `Multiaddr.parse`. */
export function multiaddr (text: string): Multiaddr {
  return Multiaddr.parse(text)
}

// ---------------------------------------------------------------------------------------------
// text → component

function componentFromText (spec: ProtocolSpec, name: string, value: string, whole: string): MultiaddrComponent {
  const bad = (expected: string): MultiaddrError =>
    new MultiaddrError(
      `invalid multiaddr ${JSON.stringify(whole)}: component "/${name}" expected ${expected}, got ${
        JSON.stringify(value)
      }`
    )
  let raw: Uint8Array
  let canonical = value
  switch (spec.kind) {
    case 'ip4': {
      const r = parseIp4(value)
      if (r === undefined) throw bad('a dotted-quad IPv4 address')
      raw = r
      break
    }
    case 'ip6': {
      const r = parseIp6(value)
      if (r === undefined) throw bad('an IPv6 address')
      raw = r
      canonical = formatIp6(r)
      break
    }
    case 'port': {
      if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) throw bad('a port in [0, 65535]')
      const port = Number(value)
      raw = new Uint8Array([port >>> 8, port & 0xff])
      canonical = String(port)
      break
    }
    case 'string': {
      if (value.length === 0) throw bad('a non-empty name')
      raw = textEncoder.encode(value)
      break
    }
    case 'peerId': {
      raw = parsePeerIdText(value, bad)
      canonical = base58btc.baseEncode(raw)
      break
    }
    case 'none':
      throw new Error('unreachable: value-less protocols are handled by the caller')
  }
  return Object.freeze({ code: spec.code, name: spec.name, value: canonical, raw })
}

/**
 * peer-ids spec "String representation": text starting with `Qm` or `1` is a base58btc multihash;
 * anything else is a multibase CIDv1 whose codec must be libp2p-key (0x72).
 */
function parsePeerIdText (value: string, bad: (expected: string) => MultiaddrError): Uint8Array {
  let mh: Uint8Array
  if (value.startsWith('Qm') || value.startsWith('1')) {
    try { mh = base58btc.baseDecode(value) } catch (err) { throw withCause(bad('a base58btc peer id'), err) }
  } else {
    let cid: CID
    try { cid = CID.parse(value) } catch (err) {
      throw withCause(bad('a base58btc peer id or a CIDv1 libp2p-key'), err)
    }
    if (cid.version !== 1 || cid.code !== CODEC_LIBP2P_KEY) {
      throw bad(
        `a CIDv1 with codec libp2p-key (0x72) (this is a CIDv${cid.version} with codec 0x${cid.code.toString(16)})`
      )
    }
    mh = cid.multihash.bytes
  }
  if (!isMultihash(mh)) throw bad('a peer id whose bytes are a multihash')
  return mh
}

function isMultihash (bytes: Uint8Array): boolean {
  try {
    Digest.decode(bytes)
    return true
  } catch {
    return false
  }
}

function withCause (err: MultiaddrError, cause: unknown): MultiaddrError {
  return new MultiaddrError(err.message, { cause })
}

function parseIp4 (text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string
    // Decimal only, no leading zeros (which some parsers read as octal).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

/** RFC 4291 §2.2 text forms: 8 groups, one `::`, optional trailing dotted IPv4. No zone (that is /ip6zone). */
function parseIp6 (text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined
  const out = new Uint8Array(16)
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const parseGroups = (s: string, allowIp4Tail: boolean): number[] | undefined => {
    if (s === '') return []
    const groups = s.split(':')
    const words: number[] = []
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as string
      if (allowIp4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIp4(g)
        if (v4 === undefined) return undefined
        words.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number))
        continue
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      words.push(parseInt(g, 16))
    }
    return words
  }
  let words: number[]
  if (halves.length === 1) {
    const w = parseGroups(text, true)
    if (w === undefined || w.length !== 8) return undefined
    words = w
  } else {
    const head = parseGroups(halves[0] as string, false)
    const tail = parseGroups(halves[1] as string, true)
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  }
  for (let i = 0; i < 8; i++) {
    const w = words[i] as number
    out[2 * i] = w >>> 8
    out[2 * i + 1] = w & 0xff
  }
  return out
}

/**
 * RFC 5952 §4 canonical text: lowercase, no leading zeros, the longest run (≥ 2) of zero groups
 * as `::` (the first on a tie), and §5 mixed notation for IPv4-mapped addresses (`::ffff:1.2.3.4`),
 * which is also what `node:net` reports.
 */
function formatIp6 (b: Uint8Array): string {
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number))
  if (words.slice(0, 5).every(w => w === 0) && words[5] === 0xffff) {
    return `::ffff:${b[12] as number}.${b[13] as number}.${b[14] as number}.${b[15] as number}`
  }
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = words.map(w => w.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

function formatIp4 (b: Uint8Array): string {
  return `${b[0] as number}.${b[1] as number}.${b[2] as number}.${b[3] as number}`
}

// ---------------------------------------------------------------------------------------------
// binary

function encodeComponents (components: readonly MultiaddrComponent[]): Uint8Array {
  let size = 0
  for (const c of components) {
    size += encodingLength(c.code)
    if (isVariable(c.code)) size += encodingLength(c.raw.length)
    size += c.raw.length
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const c of components) {
    offset += encodeUvarintTo(c.code, out, offset)
    if (isVariable(c.code)) offset += encodeUvarintTo(c.raw.length, out, offset)
    out.set(c.raw, offset)
    offset += c.raw.length
  }
  return out
}

function isVariable (code: number): boolean {
  return (BY_CODE.get(code) as ProtocolSpec).size < 0
}

function decodeComponents (bytes: Uint8Array): MultiaddrComponent[] {
  const components: MultiaddrComponent[] = []
  let offset = 0
  const hex = (): string => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
  const varint = (what: string): number => {
    let r: [number, number]
    try {
      r = decodeUvarint(bytes, offset)
    } catch (err) {
      throw new MultiaddrError(`invalid multiaddr bytes ${hex()}: malformed ${what} at offset ${offset}`, {
        cause: err
      })
    }
    if (r[1] === 0) throw new MultiaddrError(`invalid multiaddr bytes ${hex()}: truncated ${what} at offset ${offset}`)
    offset += r[1]
    return r[0]
  }
  while (offset < bytes.length) {
    const at = offset
    const code = varint('protocol code')
    const spec = BY_CODE.get(code)
    if (spec === undefined) {
      throw new MultiaddrError(
        `invalid multiaddr bytes ${hex()}: unknown protocol code ${code} (0x${code.toString(16)}) at offset ${at}`
      )
    }
    const size = spec.size < 0 ? varint(`"/${spec.name}" value length`) : spec.size
    if (offset + size > bytes.length) {
      throw new MultiaddrError(
        `invalid multiaddr bytes ${hex()}: component "/${spec.name}" expected ${size} value bytes, got ${
          bytes.length - offset
        }`
      )
    }
    const raw = bytes.subarray(offset, offset + size)
    offset += size
    components.push(Object.freeze({ code, name: spec.name, value: valueToText(spec, raw, hex), raw }))
  }
  return components
}

function valueToText (spec: ProtocolSpec, raw: Uint8Array, hex: () => string): string | undefined {
  const bad = (expected: string): MultiaddrError =>
    new MultiaddrError(`invalid multiaddr bytes ${hex()}: component "/${spec.name}" expected ${expected}`)
  switch (spec.kind) {
    case 'ip4': return formatIp4(raw)
    case 'ip6': return formatIp6(raw)
    case 'port': return String(((raw[0] as number) << 8) | (raw[1] as number))
    case 'string': {
      if (raw.length === 0) throw bad('a non-empty name')
      let s: string
      try {
        s = textDecoder.decode(raw)
      } catch (err) {
        throw new MultiaddrError(bad('valid UTF-8').message, { cause: err })
      }
      // The text form cannot carry a '/' inside a value.
      if (s.includes('/')) throw bad(`a name without "/", got ${JSON.stringify(s)}`)
      return s
    }
    case 'peerId':
      if (!isMultihash(raw)) throw bad('a multihash peer id')
      return base58btc.baseEncode(raw)
    case 'none': return undefined
  }
}
