/**
 * The TLS 1.3 key schedule (RFC 8446 §7), in the RFC's vocabulary, over node:crypto HMAC:
 *
 *              0
 *              |
 *    PSK ->  HKDF-Extract = Early Secret          (no PSK: PSK = 0^Hash.length)
 *              |
 *        Derive-Secret(., "derived", "")
 *              v
 *  (EC)DHE -> HKDF-Extract = Handshake Secret
 *              +-> Derive-Secret(., "c hs traffic", CH..SH) = client_handshake_traffic_secret
 *              +-> Derive-Secret(., "s hs traffic", CH..SH) = server_handshake_traffic_secret
 *        Derive-Secret(., "derived", "")
 *              v
 *    0 -> HKDF-Extract = Master Secret
 *              +-> Derive-Secret(., "c ap traffic", CH..server Finished) = client_application_traffic_secret_0
 *              +-> Derive-Secret(., "s ap traffic", CH..server Finished) = server_application_traffic_secret_0
 *
 * plus traffic keys (§7.3), Finished keys (§4.4.4), and KeyUpdate's next secret (§7.2).
 */
import crypto from 'node:crypto'
import { CipherSuite } from './constants.js'

export type HashName = 'sha256' | 'sha384'

export interface SuiteParams {
  suite: CipherSuite
  hash: HashName
  hashLength: number
  /** node:crypto cipher name. */
  aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'
  keyLength: number
  ivLength: number
}

export const SUITES: Readonly<Record<CipherSuite, SuiteParams>> = {
  [CipherSuite.TLS_AES_128_GCM_SHA256]: {
    suite: CipherSuite.TLS_AES_128_GCM_SHA256,
    hash: 'sha256',
    hashLength: 32,
    aead: 'aes-128-gcm',
    keyLength: 16,
    ivLength: 12
  },
  [CipherSuite.TLS_AES_256_GCM_SHA384]: {
    suite: CipherSuite.TLS_AES_256_GCM_SHA384,
    hash: 'sha384',
    hashLength: 48,
    aead: 'aes-256-gcm',
    keyLength: 32,
    ivLength: 12
  },
  [CipherSuite.TLS_CHACHA20_POLY1305_SHA256]: {
    suite: CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    hash: 'sha256',
    hashLength: 32,
    aead: 'chacha20-poly1305',
    keyLength: 32,
    ivLength: 12
  }
}

export function suiteParams (suite: number): SuiteParams | undefined {
  return SUITES[suite as CipherSuite]
}

export function hmac (hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHmac(hash, key).update(data).digest())
}

export function digest (hash: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash(hash).update(data).digest())
}

/** RFC 5869 §2.2 HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM). */
export function hkdfExtract (hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmac(hash, salt, ikm)
}

/** RFC 5869 §2.3 HKDF-Expand(PRK, info, L). */
export function hkdfExpand (hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let t = new Uint8Array(0)
  let filled = 0
  for (let i = 1; filled < length; i++) {
    const h = crypto.createHmac(hash, prk)
    h.update(t); h.update(info); h.update(Uint8Array.of(i))
    t = new Uint8Array(h.digest())
    out.set(t.subarray(0, Math.min(t.length, length - filled)), filled)
    filled += t.length
  }
  return out
}

const LABEL_PREFIX = new TextEncoder().encode('tls13 ')

/**
 * RFC 8446 §7.1 HKDF-Expand-Label(Secret, Label, Context, Length), with
 * HkdfLabel = uint16 length ‖ opaque label<7..255> = "tls13 " + Label ‖ opaque context<0..255>.
 */
export function hkdfExpandLabel (
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number
): Uint8Array {
  const l = new TextEncoder().encode(label)
  const info = new Uint8Array(2 + 1 + LABEL_PREFIX.length + l.length + 1 + context.length)
  info[0] = length >>> 8
  info[1] = length & 0xff
  info[2] = LABEL_PREFIX.length + l.length
  info.set(LABEL_PREFIX, 3)
  info.set(l, 3 + LABEL_PREFIX.length)
  info[3 + LABEL_PREFIX.length + l.length] = context.length
  info.set(context, 4 + LABEL_PREFIX.length + l.length)
  return hkdfExpand(hash, secret, info, length)
}

/**
 * RFC 8446 §7.1 Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages),
 * Hash.length).
 */
export function deriveSecret (
  hash: HashName,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array
): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, transcriptHash.length)
}

export interface TrafficKeys {
  key: Uint8Array
  iv: Uint8Array
}

/** RFC 8446 §7.3 traffic keys: [sender]_write_key / [sender]_write_iv from a traffic secret. */
export function trafficKeys (params: SuiteParams, secret: Uint8Array): TrafficKeys {
  return {
    key: hkdfExpandLabel(params.hash, secret, 'key', new Uint8Array(0), params.keyLength),
    iv: hkdfExpandLabel(params.hash, secret, 'iv', new Uint8Array(0), params.ivLength)
  }
}

/** RFC 8446 §7.2 application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length). */
export function nextTrafficSecret (params: SuiteParams, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(params.hash, secret, 'traffic upd', new Uint8Array(0), params.hashLength)
}

/**
 * RFC 8446 §4.4.4 finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length); verify_data =
 * HMAC(finished_key, transcript hash).
 */
export function finishedVerifyData (params: SuiteParams, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  const finishedKey = hkdfExpandLabel(params.hash, baseKey, 'finished', new Uint8Array(0), params.hashLength)
  return hmac(params.hash, finishedKey, transcriptHash)
}

/** The schedule of one connection, advanced stage by stage. */
export class KeySchedule {
  readonly params: SuiteParams
  private readonly zeros: Uint8Array
  earlySecret: Uint8Array
  handshakeSecret: Uint8Array | undefined
  masterSecret: Uint8Array | undefined

  constructor (params: SuiteParams) {
    this.params = params
    this.zeros = new Uint8Array(params.hashLength)
    this.earlySecret = hkdfExtract(params.hash, this.zeros, this.zeros)
  }

  private emptyHash (): Uint8Array {
    return digest(this.params.hash, new Uint8Array(0))
  }

  /** (EC)DHE → Handshake Secret and the two handshake traffic secrets. */
  handshake (sharedSecret: Uint8Array, helloHash: Uint8Array): { client: Uint8Array, server: Uint8Array } {
    const { hash } = this.params
    const derived = deriveSecret(hash, this.earlySecret, 'derived', this.emptyHash())
    this.handshakeSecret = hkdfExtract(hash, derived, sharedSecret)
    return {
      client: deriveSecret(hash, this.handshakeSecret, 'c hs traffic', helloHash),
      server: deriveSecret(hash, this.handshakeSecret, 's hs traffic', helloHash)
    }
  }

  /** Master Secret and the two application traffic secrets (transcript through server Finished). */
  application (serverFinishedHash: Uint8Array): { client: Uint8Array, server: Uint8Array } {
    const { hash } = this.params
    if (this.handshakeSecret === undefined) throw new Error('KeySchedule.application before handshake')
    const derived = deriveSecret(hash, this.handshakeSecret, 'derived', this.emptyHash())
    this.masterSecret = hkdfExtract(hash, derived, this.zeros)
    return {
      client: deriveSecret(hash, this.masterSecret, 'c ap traffic', serverFinishedHash),
      server: deriveSecret(hash, this.masterSecret, 's ap traffic', serverFinishedHash)
    }
  }
}

/**
 * The running transcript hash (RFC 8446 §4.4.1). Messages are kept raw until the cipher suite
 * (hence the hash) is known; a HelloRetryRequest replaces ClientHello1 by
 * `message_hash(254) ‖ 00 00 Hash.length ‖ Hash(ClientHello1)`.
 */
export class Transcript {
  private pending: Uint8Array[] = []
  private hasher: crypto.Hash | undefined
  private hash: HashName | undefined

  setHash (hash: HashName): void {
    if (this.hash !== undefined) return
    this.hash = hash
    this.hasher = crypto.createHash(hash)
    for (const m of this.pending) this.hasher.update(m)
    this.pending = []
  }

  update (msg: Uint8Array): void {
    if (this.hasher !== undefined) this.hasher.update(msg)
    else this.pending.push(msg)
  }

  current (): Uint8Array {
    if (this.hasher === undefined) throw new Error('Transcript.current before the hash is known')
    return new Uint8Array(this.hasher.copy().digest())
  }

  /** RFC 8446 §4.4.1: after a HelloRetryRequest the transcript restarts from message_hash(CH1). */
  replaceWithMessageHash (): void {
    const h = this.current()
    const synthetic = new Uint8Array(4 + h.length)
    synthetic[0] = 254
    synthetic[3] = h.length
    synthetic.set(h, 4)
    this.hasher = crypto.createHash(this.hash as HashName)
    this.hasher.update(synthetic)
  }
}
