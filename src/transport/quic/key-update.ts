/**
 * 1-RTT keys with key phases (RFC 9001 §6), as a small pure state holder.
 *
 *   phase:        0            1            0 …
 *   read keys:    K0 ──"quic ku"──▶ K1 ──▶ K2
 *   write keys:   K0 ─────────────▶ K1 ──▶ K2       (hp keys never change, §6)
 *
 * Receiving: a packet whose Key Phase bit differs from ours is opened with the *next* read keys if
 * its packet number is above every packet of the current phase, else with the *previous* keys
 * (§6.3: a reordered packet of the old phase). Only a packet that authenticates with the next keys
 * moves us forward (`confirmPeerUpdate`), so a forged bit changes nothing (§6.3, §9.5). We then
 * answer with the new phase on our side too (§6.2).
 * Initiating: `initiateUpdate` only once a packet of the current phase was acknowledged (§6.1);
 * the caller (the connection) knows that and asks `canInitiate`.
 */
import { QuicError } from '../../errors.js'
import type { SuiteParams } from '../../security/tls/key-schedule.js'
import { derivePacketKeys, nextSecret, type PacketKeys } from './protection.js'

export class OneRttKeys {
  readonly suite: SuiteParams
  keyPhase: 0 | 1 = 0
  write: PacketKeys
  read: PacketKeys
  /** Read keys of the previous phase, kept until the caller drops them (§6.5: about 3 PTO). */
  previousRead: PacketKeys | undefined
  nextRead: PacketKeys
  private writeSecret: Uint8Array
  private readSecret: Uint8Array
  /** Smallest packet number received in the current phase (Infinity: none yet). */
  firstReceivedInPhase = Infinity
  /** The first packet we sent in the current phase; an ACK of it (or later) allows the next update. */
  firstSentInPhase = -1
  ackedInPhase = true
  /** Packets we sealed with the current write keys (RFC 9001 §6.6 counts uses of each key). */
  sentInPhase = 0

  constructor (suite: SuiteParams, writeSecret: Uint8Array, readSecret: Uint8Array) {
    this.suite = suite
    this.writeSecret = writeSecret
    this.readSecret = readSecret
    this.write = derivePacketKeys(suite, writeSecret)
    this.read = derivePacketKeys(suite, readSecret)
    this.nextRead = this.derivedNext(this.read, nextSecret(suite, readSecret))
  }

  /** Next-phase keys keep the header protection key of the first phase (RFC 9001 §6). */
  private derivedNext (base: PacketKeys, secret: Uint8Array): PacketKeys {
    const k = derivePacketKeys(this.suite, secret)
    return { ...k, hp: base.hp }
  }

  /** The read keys for a packet with Key Phase bit `bit` and packet number `pn`. */
  readKeysFor (bit: 0 | 1, pn: number): { keys: PacketKeys, phase: 'current' | 'next' | 'previous' } | undefined {
    if (bit === this.keyPhase) return { keys: this.read, phase: 'current' }
    if (this.firstReceivedInPhase !== Infinity && pn < this.firstReceivedInPhase) {
      return this.previousRead === undefined
        ? undefined
        : { keys: this.previousRead, phase: 'previous' }
    }
    return { keys: this.nextRead, phase: 'next' }
  }

  /**
   * A packet authenticated with `phase` keys arrived (pn `pn`). Advances on a peer-initiated update.
   * KEY_UPDATE_ERROR when the peer moves to a new phase before we acknowledged any of its packets of
   * the current one: it cannot have seen the acknowledgement RFC 9001 §6.1 makes it wait for — a
   * second update before we answered its last one (§6.2), or one right after answering ours.
   */
  onPacketOpened (phase: 'current' | 'next' | 'previous', pn: number): void {
    if (phase === 'next') {
      // (the peer answering our own update is not its update)
      const peerStarted = !this.weInitiated
      if (peerStarted && this.firstReceivedInPhase !== Infinity && this.largestAckSent < this.firstReceivedInPhase) {
        throw new QuicError(
          'ERR_QUIC_KEY_UPDATE',
          `the peer updated its keys (packet ${pn}, key phase ${this.keyPhase === 0 ? 1 : 0}) before we acknowledged ` +
            `any of its packets of key phase ${this.keyPhase} (from ${this.firstReceivedInPhase}; RFC 9001 §6.1, §6.2)`
        )
      }
      this.rotateRead()
      // §6.2: the peer updated; we update our write keys too, unless we started this update
      if (!this.weInitiated) this.rotateWrite()
      this.weInitiated = false
    }
    if (phase !== 'previous' && pn < this.firstReceivedInPhase) this.firstReceivedInPhase = pn
  }

  /** True after we initiated an update whose answer we have not seen: our write keys lead. */
  private weInitiated = false

  /** RFC 9001 §6.1: start an update (new write keys and Key Phase). The caller checks `canInitiate`. */
  initiateUpdate (): void {
    this.rotateWrite()
    this.weInitiated = true
    // reading flips when the peer answers with packets in the new phase (onPacketOpened 'next')
    this.keyPhaseWrite = this.keyPhaseWrite === 0 ? 1 : 0
  }

  /** The Key Phase bit we send (leads `keyPhase` between initiateUpdate and the peer's answer). */
  keyPhaseWrite: 0 | 1 = 0

  get canInitiate (): boolean {
    return this.ackedInPhase && this.keyPhaseWrite === this.keyPhase
  }

  /** Largest packet number of the peer's that one of our ACK frames covered. */
  private largestAckSent = -1

  /** We sent an ACK frame whose Largest Acknowledged is `largest`. */
  onAckSent (largest: number): void {
    if (largest > this.largestAckSent) this.largestAckSent = largest
  }

  /** A packet we sent at or after `firstSentInPhase` was acknowledged. */
  onAcked (pn: number): void {
    if (pn >= this.firstSentInPhase && this.firstSentInPhase >= 0) this.ackedInPhase = true
  }

  onSent (pn: number): void {
    if (this.firstSentInPhase < 0) this.firstSentInPhase = pn
    this.sentInPhase++
  }

  private rotateWrite (): void {
    this.writeSecret = nextSecret(this.suite, this.writeSecret)
    this.write = this.derivedNext(this.write, this.writeSecret)
    this.firstSentInPhase = -1
    this.ackedInPhase = false
    this.sentInPhase = 0
  }

  private rotateRead (): void {
    this.previousRead = this.read
    this.readSecret = nextSecret(this.suite, this.readSecret)
    this.read = this.nextRead
    this.nextRead = this.derivedNext(this.read, nextSecret(this.suite, this.readSecret))
    this.keyPhase = this.keyPhase === 0 ? 1 : 0
    this.keyPhaseWrite = this.keyPhase
    this.firstReceivedInPhase = Infinity
  }

  /** §6.5: forget the previous phase's read keys (the connection calls this ~3 PTO after an update). */
  dropPrevious (): void {
    this.previousRead = undefined
  }
}

/**
 * RFC 9001 §6.6: how many packets one key may protect (confidentiality) and how many forged packets
 * may fail to open with it (integrity) before the connection must update or stop. AES-GCM: 2^23 and
 * 2^52; ChaCha20-Poly1305: its confidentiality limit exceeds 2^62 packets, its integrity limit is 2^36.
 */
export function aeadLimits (suite: SuiteParams): { confidentiality: number, integrity: number } {
  return suite.aead === 'chacha20-poly1305'
    ? { confidentiality: 2 ** 62, integrity: 2 ** 36 }
    : { confidentiality: 2 ** 23, integrity: 2 ** 52 }
}

/** Packets we send in one key phase before we update on our own (quic-go's KeyUpdateInterval is 100 000). */
export const DEFAULT_KEY_UPDATE_INTERVAL_PACKETS = 100_000
