/**
 * Noise session key logs, in the spirit of SSLKEYLOGFILE: a text file a capture decoder
 * (`switchyard decode`, src/capture/) reads to decrypt recorded connections. Off by default; turned
 * on only by `--keylog <path>`, which warns loudly on stderr. Keys never travel through a trace
 * observer and are never printed by a formatter.
 *
 * Format (one line per record, fields separated by one space, hex in lower case, `#` starts a comment):
 *
 *   SWITCHYARD_NOISE <local> <remote> <role> <k_i2r> <k_r2i> <h>
 *   SWITCHYARD_NOISE_HANDSHAKE <local> <remote> <role> <k_ee> <k_es> <k_se>
 *
 *   local, remote   multiaddrs of the logging side's two TCP ends (`/ip4/127.0.0.1/tcp/4001`)
 *   role            `initiator` or `responder`: the logging side's Noise role
 *   k_i2r, k_r2i    the two transport keys after Noise §5.2 Split(): k1 encrypts
 *                   initiator→responder, k2 responder→initiator; both nonces start at 0
 *   h               the handshake hash after message 3 (Noise §5.3), 32 bytes
 *   k_ee, k_es, k_se  the handshake cipher keys (the `k` of MixKey after the ee, es and se tokens):
 *                   with them a decoder also shows the payloads of handshake messages 2 and 3
 *                   (identity key, peer id, signature, extensions). Optional: without this line
 *                   a decoder still decrypts the transport.
 *
 * Every key is 32 bytes (64 hex digits). A decoder finds a connection's keys by `h`, which it
 * recomputes from the handshake it sees on the wire (h depends only on public transcript bytes),
 * so address translation or port reuse cannot mix up two connections; the addresses are there for
 * people reading the file.
 */
import { appendFileSync, openSync, closeSync } from 'node:fs'
import { SwitchyardError } from '../errors.js'
import {
  formatKeyLog,
  KEYLOG_HANDSHAKE_LABEL,
  KEYLOG_KEY_LENGTH,
  KEYLOG_TRANSPORT_LABEL
} from '../security/noise-keylog.js'
import type { NoiseKeys } from '../security/noise-keylog.js'

export {
  formatKeyLog,
  noiseKeyLogLines,
  KEYLOG_HANDSHAKE_LABEL,
  KEYLOG_KEY_LENGTH,
  KEYLOG_TRANSPORT_LABEL
} from '../security/noise-keylog.js'
export type { NoiseKeys } from '../security/noise-keylog.js'

/** A malformed key log line. */
export class KeyLogError extends SwitchyardError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_KEYLOG', message, options)
  }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/

function parseKey (field: string | undefined, what: string, line: number): Uint8Array {
  if (field === undefined || !HEX_KEY.test(field)) {
    throw new KeyLogError(
      `key log line ${line}: "${what}" expected ${KEYLOG_KEY_LENGTH * 2} hex digits, got ${
        field === undefined ? 'nothing' : JSON.stringify(field.length > 70 ? field.slice(0, 70) + '…' : field)
      }`
    )
  }
  return Uint8Array.from(Buffer.from(field, 'hex'))
}

/**
 * TLS 1.3 secrets of one connection, from NSS key log lines (the SSLKEYLOGFILE format Wireshark
 * reads): `<LABEL> <client_random> <secret>`, keyed by the ClientHello random.
 */
export interface TlsSecrets {
  clientHandshake?: Uint8Array
  serverHandshake?: Uint8Array
  client0?: Uint8Array
  server0?: Uint8Array
}

/** NSS key log labels we read (TLS 1.3), and the field each fills. */
export const NSS_LABELS: Readonly<Record<string, keyof TlsSecrets>> = {
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshake',
  CLIENT_TRAFFIC_SECRET_0: 'client0',
  SERVER_TRAFFIC_SECRET_0: 'server0'
}

/** All connections of a key log, indexed by handshake hash (Noise) or client random (TLS). */
export class KeyLog {
  readonly entries: NoiseKeys[] = []
  private readonly byHash = new Map<string, NoiseKeys>()
  private readonly tls = new Map<string, TlsSecrets>()

  /** Record one TLS secret (NSS line). */
  addTls (clientRandom: Uint8Array, field: keyof TlsSecrets, secret: Uint8Array): void {
    const key = hex(clientRandom)
    const s = this.tls.get(key) ?? {}
    s[field] ??= secret
    this.tls.set(key, s)
  }

  /** The TLS secrets of the connection whose ClientHello random is `clientRandom`. */
  findTls (clientRandom: Uint8Array): TlsSecrets | undefined {
    return this.tls.get(hex(clientRandom))
  }

  /**
   * Add a connection's keys; returns the stored entry. Both ends of one connection may log into the
   * same file (same keys, two points of view): the first entry is kept, and gains the handshake keys
   * of the second if it had none.
   */
  add (k: NoiseKeys): NoiseKeys {
    const key = hex(k.handshakeHash)
    const known = this.byHash.get(key)
    if (known !== undefined) {
      if (known.handshakeKeys === undefined && k.handshakeKeys !== undefined) known.handshakeKeys = k.handshakeKeys
      return known
    }
    this.entries.push(k)
    this.byHash.set(key, k)
    return k
  }

  /** The keys of the connection whose handshake hash is `h`. */
  find (h: Uint8Array): NoiseKeys | undefined {
    return this.byHash.get(hex(h))
  }

  get size (): number { return this.entries.length }
}

/**
 * Parse a key log. Blank lines, `#` comments and lines with unknown labels (other tools' secrets in
 * a shared file, as SSLKEYLOGFILE allows) are skipped; a line with a known label and bad fields is
 * a KeyLogError naming the line. A handshake line without a transport line before it is ignored.
 */
export function parseKeyLog (text: string): KeyLog {
  const log = new KeyLog()
  // The transport line of a connection and its handshake line share `local remote role`; the
  // writer puts the handshake line right after, so each one pairs with the latest unpaired match.
  const unpaired = new Map<string, NoiseKeys>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim()
    if (raw.length === 0 || raw.startsWith('#')) continue
    const f = raw.split(/\s+/)
    const label = f[0]
    const n = i + 1
    const nss = NSS_LABELS[label ?? '']
    if (nss !== undefined) {
      if (f.length !== 3) {
        throw new KeyLogError(`key log line ${n}: "${label as string}" expected 3 fields, got ${f.length}`)
      }
      const random = Uint8Array.from(Buffer.from(f[1] as string, 'hex'))
      const secret = Uint8Array.from(Buffer.from(f[2] as string, 'hex'))
      if (
        random.length !== 32 || !/^[0-9a-f]+$/i.test(f[2] as string) || (secret.length !== 32 && secret.length !== 48)
      ) {
        throw new KeyLogError(
          `key log line ${n}: "${label as string}" expected a 32-byte client random and a 32- or 48-byte secret in hex`
        )
      }
      log.addTls(random, nss, secret)
      continue
    }
    if (label !== KEYLOG_TRANSPORT_LABEL && label !== KEYLOG_HANDSHAKE_LABEL) continue
    if (f.length !== 7) throw new KeyLogError(`key log line ${n}: "${label}" expected 7 fields, got ${f.length}`)
    const role = f[3]
    if (role !== 'initiator' && role !== 'responder') {
      throw new KeyLogError(`key log line ${n}: "role" expected initiator or responder, got ${JSON.stringify(role)}`)
    }
    const head = `${f[1] as string} ${f[2] as string} ${role}`
    if (label === KEYLOG_HANDSHAKE_LABEL) {
      const keys = { ee: parseKey(f[4], 'k_ee', n), es: parseKey(f[5], 'k_es', n), se: parseKey(f[6], 'k_se', n) }
      const entry = unpaired.get(head)
      if (entry !== undefined) {
        if (entry.handshakeKeys === undefined) entry.handshakeKeys = keys
        unpaired.delete(head)
      }
      continue
    }
    const entry: NoiseKeys = {
      localAddr: f[1] as string,
      remoteAddr: f[2] as string,
      role,
      initiatorToResponder: parseKey(f[4], 'k_i2r', n),
      responderToInitiator: parseKey(f[5], 'k_r2i', n),
      handshakeHash: parseKey(f[6], 'h', n)
    }
    unpaired.set(head, log.add(entry))
  }
  return log
}

/** The stderr warning printed once when a key log is turned on. */
export function keyLogWarning (path: string): string {
  return `WARNING: --keylog ${path}: writing Noise session keys (and TLS secrets, NSS format). Anyone who has this file can decrypt ` +
    'every recorded connection of this process. Use it only for debugging; never in production.\n'
}

/**
 * Appends key log lines to a file (created with mode 0600). Adapter: the only node:fs user of this
 * folder. The security layer formats the lines (Noise: src/security/noise-keylog.ts); each line is
 * one `appendFileSync` call, so lines from two processes sharing the file do not interleave mid-line.
 */
export class KeyLogWriter {
  readonly path: string

  constructor (path: string) {
    this.path = path
    // Create it now (0600), so a bad path fails at start-up, not at the first connection.
    closeSync(openSync(path, 'a', 0o600))
  }

  /** Append one line (a trailing newline is added when missing), or a connection's Noise keys. */
  write (line: string | NoiseKeys): void {
    const text = typeof line === 'string' ? (line.endsWith('\n') ? line : line + '\n') : formatKeyLog(line)
    appendFileSync(this.path, text, { mode: 0o600 })
  }
}
