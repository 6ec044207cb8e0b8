/**
 * Private key files, for the CLI's `--key`.
 *
 * Format: the raw bytes of the libp2p `PrivateKey` protobuf (peer-ids.md §Keys: `08 <type> 12 <len>
 * <Data>`), nothing else — no PEM armour, no hex, no base64. It is the format go-libp2p and
 * js-libp2p (`privateKeyToProtobuf`) serialise keys to, and what `ipfs key export` writes, so key
 * files move between implementations. An Ed25519 file is 68 bytes. Files are written with mode
 * 0600 and never overwrite an existing file unless asked to.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { KeyError, toError } from '../errors.js'
import { unmarshalPrivateKey } from './keys.js'
import type { PrivateKey } from './keys.js'
import { keyTypeName } from '../proto/keys.js'
import type { KeyType } from '../proto/keys.js'

export interface LoadKeyOptions {
  /** Key types to accept (default: all four). Another type → ERR_KEY_FILE naming both. */
  allowedTypes?: readonly KeyType[]
}

function keyFileError (path: string, detail: string, cause?: unknown): KeyError {
  return new KeyError(
    'ERR_KEY_FILE',
    `key file ${JSON.stringify(path)}: ${detail}`,
    cause === undefined ? undefined : { cause }
  )
}

/** Guess what a wrong file is, to say so in the error. */
function describeForeign (bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1')
  if (head.startsWith('-----BEGIN')) return 'it is a PEM file; convert it to the raw PrivateKey protobuf'
  if (/^[0-9a-fA-F\s]+$/.test(head)) return 'it looks like hex text; decode it to raw bytes first'
  if (/^[A-Za-z0-9+/=_\-\s]+$/.test(head)) return 'it looks like base64 text; decode it to raw bytes first'
  if (head.startsWith('{')) return 'it looks like JSON; expected the raw PrivateKey protobuf'
  return undefined
}

/**
 * Read a private key file. KeyError ERR_KEY_FILE when it cannot be read, is empty, is not a
 * `PrivateKey` protobuf, holds an invalid key, or holds a type not in `allowedTypes`.
 */
export async function loadPrivateKeyFile (path: string, opts: LoadKeyOptions = {}): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw keyFileError(path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? toError(err).message})`, err)
  }
  if (bytes.length === 0) throw keyFileError(path, 'the file is empty; expected a libp2p PrivateKey protobuf')
  let key: PrivateKey
  try {
    key = unmarshalPrivateKey(bytes)
  } catch (err) {
    const hint = describeForeign(bytes)
    throw keyFileError(
      path,
      `not a valid libp2p PrivateKey protobuf (${toError(err).message})${hint !== undefined ? `; ${hint}` : ''}`,
      err
    )
  }
  const allowed = opts.allowedTypes
  if (allowed !== undefined && !allowed.includes(key.type)) {
    throw keyFileError(path, `key type expected ${allowed.map(keyTypeName).join(' or ')}, got ${keyTypeName(key.type)}`)
  }
  return key
}

export interface SaveKeyOptions {
  /** Replace an existing file (default false: refuse, so an identity is never lost by accident). */
  overwrite?: boolean
}

/** Write `key` as a raw `PrivateKey` protobuf, mode 0600. KeyError ERR_KEY_FILE on failure. */
export async function savePrivateKeyFile (path: string, key: PrivateKey, opts: SaveKeyOptions = {}): Promise<void> {
  try {
    await writeFile(path, key.bytes(), { mode: 0o600, flag: opts.overwrite === true ? 'w' : 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const detail = code === 'EEXIST'
      ? 'already exists (pass overwrite: true to replace it)'
      : `cannot write it (${code ?? toError(err).message})`
    throw keyFileError(path, detail, err)
  }
}
