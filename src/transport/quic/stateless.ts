/**
 * What a QUIC server endpoint answers before a connection exists, sans-I/O (injected clock): a
 * datagram for no known connection id comes in, a decision goes out.
 *
 *   unparseable, short header, Retry, VN, 0-RTT/Handshake      → drop
 *   unknown version, datagram >= 1200 bytes                    → Version Negotiation   (RFC 9000 §6.1)
 *       (< 1200 bytes, a VN packet itself, or over the rate)   → drop                  (§6.1, §17.2.1)
 *   v1 Initial < 1200 bytes or DCID < 8 bytes                  → drop                  (§14.1, §7.2)
 *   v1 Initial with a valid Retry token                        → accept, address validated (§8.1.2)
 *   v1 Initial with one of our tokens, expired / other address → INVALID_TOKEN close   (§8.1.3)
 *   v1 Initial, no usable token, Retry wanted                  → Retry                 (§17.2.5)
 *   otherwise                                                  → accept, not validated (3x limit)
 *
 * "Retry wanted": always, never, or when more than `retryAfterPendingHandshakes` handshakes are in
 * progress (the load signal; the caller counts them).
 *
 * Retry token (opaque to the client, RFC 9000 §8.1.4; our own layout):
 *
 *   0x01 | nonce (12) | AES-256-GCM(key, nonce, aad = Retry Source Connection ID,
 *                         plaintext = issued-at ms (8) ‖ ODCID length (1) ‖ Original DCID ‖
 *                                     client port (2) ‖ client IP (text))
 *
 * The Retry SCID as associated data binds the token to the Initial that must echo it as DCID; the
 * address inside lets a token of ours replayed from elsewhere be told apart from a forged one (the
 * first is INVALID_TOKEN, the second is no token at all, §8.1.3). RFC 9000 §8.1.4 asks Retry tokens
 * to check the port too. Tokens live `retryTokenLifetimeMs` on this process's clock (the key is per
 * endpoint and random, so a token never outlives its endpoint).
 */
import crypto from 'node:crypto'
import { QuicWriter } from './buffer.js'
import { FrameType, LongPacketType, MIN_INITIAL_DATAGRAM_SIZE, MIN_INITIAL_DCID_LENGTH, QUIC_V1 } from './constants.js'
import { encodeFrame } from './frame.js'
import {
  encodeLongHeader,
  encodeRetryWithoutTag,
  encodeVersionNegotiation,
  parseHeader,
  type LongHeader
} from './header.js'
import { AEAD_TAG_LENGTH, initialKeys, retryIntegrityTag, sealPacket } from './protection.js'

/** When a server sends Retry. */
export type RetryPolicy = 'always' | 'never' | 'under-load'

export interface StatelessServerOptions {
  /** Default 'under-load'. */
  retry?: RetryPolicy
  /** 'under-load': Retry once more than this many handshakes are in progress (default 128). */
  retryAfterPendingHandshakes?: number
  /** How long a Retry token is accepted (default 10 s). */
  retryTokenLifetimeMs?: number
  /** Version Negotiation packets per second, burst of the same size (default 100). */
  versionNegotiationPerSecond?: number
  /** Length of the connection ids we choose (the Retry Source Connection ID). */
  cidLength: number
  randomBytes?: (n: number) => Uint8Array
}

export const DEFAULT_RETRY_AFTER_PENDING_HANDSHAKES = 128
export const DEFAULT_RETRY_TOKEN_LIFETIME_MS = 10_000
export const DEFAULT_VERSION_NEGOTIATION_PER_SECOND = 100
/** The versions we list in Version Negotiation: v1, and a reserved one (RFC 9000 §6.3, §15: 0x?a?a?a?a) as grease. */
export const GREASE_VERSION = 0x1a2a3a4a

const TOKEN_FORMAT = 0x01
const NONCE_LENGTH = 12
const ISSUED_LENGTH = 8

/** Who sent the datagram (the token is bound to both). */
export interface PeerAddress { address: string, port: number }

export type StatelessDecision =
  | { kind: 'drop', reason: string }
  | { kind: 'send', reason: 'version-negotiation' | 'retry' | 'invalid-token', datagram: Uint8Array }
  | {
    kind: 'accept'
    header: LongHeader
    /** True when a Retry token proved the address (no 3x limit). */
    validated: boolean
    /** Set after a Retry: what the server's transport parameters must say (RFC 9000 §7.3). */
    retry?: { originalDcid: Uint8Array, retrySourceCid: Uint8Array }
  }

export type TokenCheck =
  | { kind: 'valid', originalDcid: Uint8Array }
  | { kind: 'invalid', reason: string }
  /** Not a token of ours (format, or it does not authenticate): treated as no token (§8.1.3). */
  | { kind: 'unknown' }

/** Retry tokens: sealed with a per-endpoint key. */
export class RetryTokens {
  private readonly key: Uint8Array
  private readonly lifetimeMs: number
  private readonly random: (n: number) => Uint8Array

  constructor (lifetimeMs = DEFAULT_RETRY_TOKEN_LIFETIME_MS, random: (n: number) => Uint8Array = randomBytes) {
    this.lifetimeMs = lifetimeMs
    this.random = random
    this.key = random(32)
  }

  issue (peer: PeerAddress, originalDcid: Uint8Array, retrySourceCid: Uint8Array, now: number): Uint8Array {
    const nonce = this.random(NONCE_LENGTH)
    const addr = addressBytes(peer)
    const plain = new Uint8Array(ISSUED_LENGTH + 1 + originalDcid.length + addr.length)
    new DataView(plain.buffer).setFloat64(0, now)
    plain[ISSUED_LENGTH] = originalDcid.length
    plain.set(originalDcid, ISSUED_LENGTH + 1)
    plain.set(addr, ISSUED_LENGTH + 1 + originalDcid.length)
    const c = crypto.createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH })
    c.setAAD(retrySourceCid)
    const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
    const token = new Uint8Array(1 + NONCE_LENGTH + sealed.length)
    token[0] = TOKEN_FORMAT
    token.set(nonce, 1)
    token.set(sealed, 1 + NONCE_LENGTH)
    return token
  }

  /** `dcid` is the Destination Connection ID of the Initial carrying the token (our Retry SCID). */
  check (token: Uint8Array, peer: PeerAddress, dcid: Uint8Array, now: number): TokenCheck {
    if (token.length < 1 + NONCE_LENGTH + ISSUED_LENGTH + 1 + AEAD_TAG_LENGTH || token[0] !== TOKEN_FORMAT) {
      return { kind: 'unknown' }
    }
    const nonce = token.subarray(1, 1 + NONCE_LENGTH)
    const body = token.subarray(1 + NONCE_LENGTH, token.length - AEAD_TAG_LENGTH)
    const tag = token.subarray(token.length - AEAD_TAG_LENGTH)
    let plain: Buffer
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH })
      d.setAAD(dcid)
      d.setAuthTag(tag)
      plain = Buffer.concat([d.update(body), d.final()])
    } catch {
      // forged, another endpoint's, or echoed under another DCID: not a token of ours for this Initial
      return { kind: 'unknown' }
    }
    const issued = new DataView(plain.buffer, plain.byteOffset, plain.length).getFloat64(0)
    const odcidLength = plain[ISSUED_LENGTH] as number
    const originalDcid = new Uint8Array(plain.subarray(ISSUED_LENGTH + 1, ISSUED_LENGTH + 1 + odcidLength))
    const addr = plain.subarray(ISSUED_LENGTH + 1 + odcidLength)
    if (!Buffer.from(addressBytes(peer)).equals(addr)) {
      return { kind: 'invalid', reason: 'token issued to another address' }
    }
    if (now > issued + this.lifetimeMs) {
      return { kind: 'invalid', reason: `token expired ${Math.round(now - issued - this.lifetimeMs)} ms ago` }
    }
    if (now < issued) return { kind: 'invalid', reason: 'token issued in the future' }
    return { kind: 'valid', originalDcid }
  }
}

function addressBytes (peer: PeerAddress): Uint8Array {
  const ip = new TextEncoder().encode(peer.address.toLowerCase())
  const out = new Uint8Array(2 + ip.length)
  out[0] = peer.port >>> 8
  out[1] = peer.port & 0xff
  out.set(ip, 2)
  return out
}

/** A token bucket over the injected clock. */
export class RateLimiter {
  private tokens: number
  private last: number
  private readonly perMs: number
  private readonly burst: number

  constructor (perSecond: number, now: number) {
    this.burst = perSecond
    this.perMs = perSecond / 1000
    this.tokens = perSecond
    this.last = now
  }

  take (now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perMs)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/** A Retry packet with its integrity tag (RFC 9000 §17.2.5, RFC 9001 §5.8). */
export function encodeRetry (
  clientScid: Uint8Array,
  retrySourceCid: Uint8Array,
  token: Uint8Array,
  originalDcid: Uint8Array,
  unused = 0
): Uint8Array {
  const withoutTag = encodeRetryWithoutTag(QUIC_V1, clientScid, retrySourceCid, token, unused)
  const tag = retryIntegrityTag(originalDcid, withoutTag)
  const out = new Uint8Array(withoutTag.length + tag.length)
  out.set(withoutTag)
  out.set(tag, withoutTag.length)
  return out
}

/**
 * A server Initial carrying CONNECTION_CLOSE, built without a connection (RFC 9000 §10.2.3 allows
 * Initial-level closes; keys from the client's DCID, RFC 9001 §5.2). Used for INVALID_TOKEN.
 */
export function encodeStatelessClose (h: LongHeader, errorCode: number, reason: string): Uint8Array {
  const keys = initialKeys(h.dcid, 'server').write
  const w = new QuicWriter(64 + reason.length)
  encodeFrame(w, { type: FrameType.ConnectionClose, errorCode, frameType: 0, reason: new TextEncoder().encode(reason) })
  const payload = w.finish()
  const header = encodeLongHeader(
    { type: LongPacketType.Initial, dcid: h.scid, scid: h.dcid },
    1,
    0,
    payload.length + AEAD_TAG_LENGTH
  )
  return sealPacket(keys, header.bytes, header.pnOffset, 1, 0, payload)
}

/** The endpoint's answers to datagrams for no known connection. */
export class StatelessServer {
  readonly tokens: RetryTokens
  private readonly policy: RetryPolicy
  private readonly retryAfter: number
  private readonly vnLimiter: RateLimiter
  private readonly cidLength: number
  private readonly random: (n: number) => Uint8Array
  readonly stats = {
    versionNegotiation: 0,
    versionNegotiationLimited: 0,
    retry: 0,
    invalidToken: 0,
    accepted: 0,
    dropped: 0
  }

  constructor (opts: StatelessServerOptions, now: number) {
    this.random = opts.randomBytes ?? randomBytes
    this.tokens = new RetryTokens(opts.retryTokenLifetimeMs ?? DEFAULT_RETRY_TOKEN_LIFETIME_MS, this.random)
    this.policy = opts.retry ?? 'under-load'
    this.retryAfter = opts.retryAfterPendingHandshakes ?? DEFAULT_RETRY_AFTER_PENDING_HANDSHAKES
    this.vnLimiter = new RateLimiter(opts.versionNegotiationPerSecond ?? DEFAULT_VERSION_NEGOTIATION_PER_SECOND, now)
    this.cidLength = opts.cidLength
  }

  /** Decide what to do with `datagram` from `peer`; `pendingHandshakes` is the load signal. */
  onDatagram (datagram: Uint8Array, peer: PeerAddress, pendingHandshakes: number, now: number): StatelessDecision {
    const d = this.decide(datagram, peer, pendingHandshakes, now)
    if (d.kind === 'drop') this.stats.dropped++
    else if (d.kind === 'accept') this.stats.accepted++
    else if (d.reason === 'retry') this.stats.retry++
    else if (d.reason === 'invalid-token') this.stats.invalidToken++
    else this.stats.versionNegotiation++
    return d
  }

  private decide (datagram: Uint8Array, peer: PeerAddress, pendingHandshakes: number, now: number): StatelessDecision {
    let h
    try { h = parseHeader(datagram, 0, this.cidLength) } catch { return { kind: 'drop', reason: 'unparseable header' } }
    switch (h.form) {
      case 'short': return { kind: 'drop', reason: 'short header for no connection' }
      case 'retry': return { kind: 'drop', reason: 'Retry sent to a server' }
      case 'version-negotiation': return { kind: 'drop', reason: 'never answer Version Negotiation (RFC 9000 §6.1)' }
      case 'unsupported-version': {
        if (datagram.length < MIN_INITIAL_DATAGRAM_SIZE) {
          return {
            kind: 'drop',
            reason: `unknown version 0x${hex32(h.version)} in a ${datagram.length}-byte datagram (< 1200)`
          }
        }
        if (!this.vnLimiter.take(now)) {
          this.stats.versionNegotiationLimited++
          return { kind: 'drop', reason: 'Version Negotiation rate limit' }
        }
        const unused = (this.random(1)[0] as number) & 0x3f
        return {
          kind: 'send',
          reason: 'version-negotiation',
          datagram: encodeVersionNegotiation(h.scid, h.dcid, [QUIC_V1, GREASE_VERSION], unused)
        }
      }
      case 'long': break
    }
    if (h.type !== LongPacketType.Initial) return { kind: 'drop', reason: 'not an Initial for no connection' }
    if (datagram.length < MIN_INITIAL_DATAGRAM_SIZE) {
      return { kind: 'drop', reason: `Initial in a ${datagram.length}-byte datagram (RFC 9000 §14.1)` }
    }
    if (h.dcid.length < MIN_INITIAL_DCID_LENGTH) {
      return { kind: 'drop', reason: `Initial DCID of ${h.dcid.length} bytes (RFC 9000 §7.2)` }
    }
    if (h.token.length > 0) {
      const t = this.tokens.check(h.token, peer, h.dcid, now)
      if (t.kind === 'valid') {
        return {
          kind: 'accept',
          header: h,
          validated: true,
          retry: { originalDcid: t.originalDcid, retrySourceCid: h.dcid.slice() }
        }
      }
      // RFC 9000 §8.1.3: the client will not take a second Retry, so say why instead of letting it time out
      if (t.kind === 'invalid') {
        return { kind: 'send', reason: 'invalid-token', datagram: encodeStatelessClose(h, 0x0b, t.reason) }
      }
    }
    const wanted = this.policy === 'always' || (this.policy === 'under-load' && pendingHandshakes >= this.retryAfter)
    if (!wanted) return { kind: 'accept', header: h, validated: false }
    const retryScid = this.random(this.cidLength)
    const token = this.tokens.issue(peer, h.dcid, retryScid, now)
    return {
      kind: 'send',
      reason: 'retry',
      datagram: encodeRetry(h.scid, retryScid, token, h.dcid, (this.random(1)[0] as number) & 0x0f)
    }
  }
}

function hex32 (v: number): string {
  return v.toString(16).padStart(8, '0')
}

function randomBytes (n: number): Uint8Array {
  return new Uint8Array(crypto.randomBytes(n))
}
