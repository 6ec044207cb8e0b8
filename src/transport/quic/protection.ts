/**
 * QUIC packet protection (RFC 9001 §5): keys from a TLS secret, AEAD per packet, header protection.
 *
 *   seal:  header ‖ AEAD(key, iv XOR pn, aad = header, payload)        (RFC 9001 §5.3)
 *          then mask = HP(hp, sample = ciphertext[pnOffset+4 … +16])  (RFC 9001 §5.4.2)
 *          first byte ^= mask[0] & (long ? 0x0f : 0x1f); pn bytes ^= mask[1…]
 *   open:  the same in reverse; the packet number length is only known after the mask is removed.
 *
 * Header protection is AES-ECB of the sample (AES suites) or ChaCha20 keystream with the sample as
 * counter ‖ nonce (RFC 9001 §5.4.3, §5.4.4). A packet that fails to decrypt is dropped with no
 * state change (RFC 9001 §5.5: the caller sees ERR_QUIC_DECRYPT and forgets the packet).
 * The HKDF helpers and suite table are the TLS layer's (RFC 8446 §7.1), shared, not copied.
 */
import crypto from 'node:crypto'
import { QuicError } from '../../errors.js'
import { CipherSuite } from '../../security/tls/constants.js'
import { hkdfExpandLabel, hkdfExtract, SUITES } from '../../security/tls/key-schedule.js'
import type { SuiteParams } from '../../security/tls/key-schedule.js'
import { HEADER_FORM_BIT, RETRY_INTEGRITY_TAG_LENGTH } from './constants.js'
import { decodePacketNumber, readPacketNumber } from './packet-number.js'

/** RFC 9001 §5.2: initial_salt of QUIC v1. */
export const INITIAL_SALT_V1 = hex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a')
/** RFC 9001 §5.8: the Retry integrity key and nonce of QUIC v1. */
export const RETRY_KEY_V1 = hex('be0c690b9f66575a1d766b54e368c84e')
export const RETRY_NONCE_V1 = hex('461599d35d632bf2239825bb')
/** RFC 9001 §5.3: AEAD_AES_128_GCM, AEAD_AES_256_GCM and AEAD_CHACHA20_POLY1305 all have 16-byte tags. */
export const AEAD_TAG_LENGTH = 16
/** RFC 9001 §5.4.2: header protection samples 16 bytes, starting 4 bytes after the packet number. */
export const HP_SAMPLE_LENGTH = 16
export const HP_SAMPLE_OFFSET = 4

const EMPTY = new Uint8Array(0)

function hex (s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'))
}

/** One direction's keys at one encryption level (RFC 9001 §5.1). */
export interface PacketKeys {
  suite: SuiteParams
  key: Uint8Array
  iv: Uint8Array
  hp: Uint8Array
}

/** RFC 9001 §5.1: key, iv and hp from a traffic secret ("quic key", "quic iv", "quic hp"). */
export function derivePacketKeys (suite: SuiteParams, secret: Uint8Array): PacketKeys {
  return {
    suite,
    key: hkdfExpandLabel(suite.hash, secret, 'quic key', EMPTY, suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, 'quic iv', EMPTY, suite.ivLength),
    hp: hkdfExpandLabel(suite.hash, secret, 'quic hp', EMPTY, suite.keyLength)
  }
}

/** RFC 9001 §6.1: the next 1-RTT secret ("quic ku"); the header protection key does not change. */
export function nextSecret (suite: SuiteParams, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(suite.hash, secret, 'quic ku', EMPTY, suite.hashLength)
}

/** RFC 9001 §5.2: client and server Initial secrets from the client's first Destination Connection ID. */
export function initialSecrets (dcid: Uint8Array): { client: Uint8Array, server: Uint8Array } {
  const initial = hkdfExtract('sha256', INITIAL_SALT_V1, dcid)
  return {
    client: hkdfExpandLabel('sha256', initial, 'client in', EMPTY, 32),
    server: hkdfExpandLabel('sha256', initial, 'server in', EMPTY, 32)
  }
}

/** The Initial suite (RFC 9001 §5.2: AEAD_AES_128_GCM with SHA-256). */
export const INITIAL_SUITE: SuiteParams = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]

/** Initial keys of both directions, seen from `role`. */
export function initialKeys (dcid: Uint8Array, role: 'client' | 'server'): { write: PacketKeys, read: PacketKeys } {
  const s = initialSecrets(dcid)
  const client = derivePacketKeys(INITIAL_SUITE, s.client)
  const server = derivePacketKeys(INITIAL_SUITE, s.server)
  return role === 'client' ? { write: client, read: server } : { write: server, read: client }
}

/** RFC 9001 §5.3: nonce = iv XOR the packet number, left-padded to the iv length. */
function nonceFor (iv: Uint8Array, pn: number): Uint8Array {
  const nonce = iv.slice()
  let v = pn
  for (let i = nonce.length - 1; i >= nonce.length - 8 && v > 0; i--) {
    nonce[i] = (nonce[i] as number) ^ (v & 0xff)
    v = Math.floor(v / 256)
  }
  return nonce
}

/** RFC 9001 §5.4.3 / §5.4.4: the 5-byte header protection mask for `sample`. */
export function headerProtectionMask (keys: PacketKeys, sample: Uint8Array): Uint8Array {
  if (keys.suite.aead === 'chacha20-poly1305') {
    // counter = sample[0..4] little-endian, nonce = sample[4..16]: node's chacha20 takes exactly that 16-byte IV
    const c = crypto.createCipheriv('chacha20', keys.hp, sample)
    return new Uint8Array(c.update(new Uint8Array(5)))
  }
  let c = hpCiphers.get(keys.hp)
  if (c === undefined) {
    c = crypto.createCipheriv(keys.suite.aead === 'aes-128-gcm' ? 'aes-128-ecb' : 'aes-256-ecb', keys.hp, null)
    c.setAutoPadding(false)
    hpCiphers.set(keys.hp, c)
  }
  return c.update(sample).subarray(0, 5)
}

/**
 * AES header protection is ECB of one 16-byte block: one cipher per hp key, kept for the key's life
 * and fed one block per packet (no block depends on another; making a cipher costs more than using it).
 */
const hpCiphers = new WeakMap<Uint8Array, crypto.Cipher>()

/** AEAD open; undefined when the tag does not verify. */
function aeadOpen (keys: PacketKeys, pn: number, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.length < AEAD_TAG_LENGTH) return undefined
  const d = crypto.createDecipheriv(keys.suite.aead as crypto.CipherGCMTypes, keys.key, nonceFor(keys.iv, pn), {
    authTagLength: AEAD_TAG_LENGTH
  })
  d.setAAD(aad, { plaintextLength: ciphertext.length - AEAD_TAG_LENGTH })
  d.setAuthTag(ciphertext.subarray(ciphertext.length - AEAD_TAG_LENGTH))
  const head = d.update(ciphertext.subarray(0, ciphertext.length - AEAD_TAG_LENGTH))
  try {
    d.final()
  } catch {
    return undefined
  }
  return new Uint8Array(head.buffer, head.byteOffset, head.length)
}

/**
 * Protect one packet: `header` is the unprotected header (packet number included, at `pnOffset`,
 * `pnLength` bytes). Returns header ‖ ciphertext with header protection applied. The payload must
 * be long enough for the sample: pnLength + payload + 16 >= 4 + 16 (RFC 9001 §5.4.2 — pad with
 * PADDING frames otherwise).
 */
export function sealPacket (
  keys: PacketKeys,
  header: Uint8Array,
  pnOffset: number,
  pnLength: number,
  pn: number,
  payload: Uint8Array
): Uint8Array {
  // AEAD (RFC 9001 §5.3) straight into the packet: header ‖ ciphertext ‖ tag, one allocation
  const c = crypto.createCipheriv(keys.suite.aead as crypto.CipherGCMTypes, keys.key, nonceFor(keys.iv, pn), {
    authTagLength: AEAD_TAG_LENGTH
  })
  c.setAAD(header, { plaintextLength: payload.length })
  const body = c.update(payload)
  c.final()
  const packet = new Uint8Array(header.length + body.length + AEAD_TAG_LENGTH)
  packet.set(header, 0)
  packet.set(body, header.length)
  packet.set(c.getAuthTag(), header.length + body.length)
  const sampleStart = pnOffset + HP_SAMPLE_OFFSET
  if (sampleStart + HP_SAMPLE_LENGTH > packet.length) {
    throw new RangeError(`"packet" too short for the header protection sample: ${packet.length} bytes`)
  }
  const mask = headerProtectionMask(keys, packet.subarray(sampleStart, sampleStart + HP_SAMPLE_LENGTH))
  const long = ((packet[0] as number) & HEADER_FORM_BIT) !== 0
  packet[0] = (packet[0] as number) ^ ((mask[0] as number) & (long ? 0x0f : 0x1f))
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i] = (packet[pnOffset + i] as number) ^ (mask[1 + i] as number)
  return packet
}

/** A packet whose header protection is removed (nothing decrypted yet). */
export interface UnmaskedHeader {
  /** The first byte with its protected bits restored (reserved bits, key phase, pn length). */
  firstByte: number
  pnLength: 1 | 2 | 3 | 4
  /** The full packet number, recovered against `largestPn` (RFC 9000 §17.1). */
  pn: number
  /** The unprotected header (a copy), the AEAD's associated data. */
  header: Uint8Array
}

function decryptError (what: string): QuicError {
  return new QuicError('ERR_QUIC_DECRYPT', `undecryptable packet: ${what}`)
}

/**
 * Remove header protection from the packet in `datagram[packetStart … packetEnd)`. Throws
 * ERR_QUIC_DECRYPT (drop the packet) when the sample does not fit.
 */
export function removeHeaderProtection (
  keys: PacketKeys,
  datagram: Uint8Array,
  packetStart: number,
  pnOffset: number,
  packetEnd: number,
  largestPn: number
): UnmaskedHeader {
  const sampleStart = pnOffset + HP_SAMPLE_OFFSET
  if (sampleStart + HP_SAMPLE_LENGTH > packetEnd) throw decryptError('too short for the header protection sample')
  const mask = headerProtectionMask(keys, datagram.subarray(sampleStart, sampleStart + HP_SAMPLE_LENGTH))
  const first = datagram[packetStart] as number
  const long = (first & HEADER_FORM_BIT) !== 0
  const firstByte = first ^ ((mask[0] as number) & (long ? 0x0f : 0x1f))
  const pnLength = ((firstByte & 0x03) + 1) as 1 | 2 | 3 | 4
  const header = datagram.slice(packetStart, pnOffset + pnLength)
  header[0] = firstByte
  const p = pnOffset - packetStart
  for (let i = 0; i < pnLength; i++) header[p + i] = (header[p + i] as number) ^ (mask[1 + i] as number)
  const truncated = readPacketNumber(header, p, pnLength)
  return {
    firstByte,
    pnLength,
    pn: decodePacketNumber(largestPn, truncated, (pnLength * 8) as 8 | 16 | 24 | 32),
    header
  }
}

/** Decrypt the payload of an unmasked packet; undefined when authentication fails. */
export function openPayload (
  keys: PacketKeys,
  unmasked: UnmaskedHeader,
  datagram: Uint8Array,
  packetStart: number,
  packetEnd: number
): Uint8Array | undefined {
  return aeadOpen(
    keys,
    unmasked.pn,
    unmasked.header,
    datagram.subarray(packetStart + unmasked.header.length, packetEnd)
  )
}

/** Both steps of opening a packet; ERR_QUIC_DECRYPT when either fails. */
export function openPacket (
  keys: PacketKeys,
  datagram: Uint8Array,
  packetStart: number,
  pnOffset: number,
  packetEnd: number,
  largestPn: number
): UnmaskedHeader & { payload: Uint8Array } {
  const unmasked = removeHeaderProtection(keys, datagram, packetStart, pnOffset, packetEnd, largestPn)
  const payload = openPayload(keys, unmasked, datagram, packetStart, packetEnd)
  if (payload === undefined) throw decryptError(`authentication failed (packet number ${unmasked.pn})`)
  return { ...unmasked, payload }
}

/**
 * RFC 9001 §5.8: the Retry Integrity Tag, AES-128-GCM with the fixed v1 key and nonce over the
 * pseudo-packet (ODCID Length ‖ Original Destination Connection ID ‖ Retry packet without tag).
 */
export function retryIntegrityTag (originalDcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array {
  const pseudo = new Uint8Array(1 + originalDcid.length + retryWithoutTag.length)
  pseudo[0] = originalDcid.length
  pseudo.set(originalDcid, 1)
  pseudo.set(retryWithoutTag, 1 + originalDcid.length)
  const c = crypto.createCipheriv('aes-128-gcm', RETRY_KEY_V1, RETRY_NONCE_V1, {
    authTagLength: RETRY_INTEGRITY_TAG_LENGTH
  })
  c.setAAD(pseudo)
  c.final()
  return new Uint8Array(c.getAuthTag())
}

/** Check a received Retry packet's tag (RFC 9000 §17.2.5.2: a client discards a Retry that fails). */
export function verifyRetryIntegrity (originalDcid: Uint8Array, retryPacket: Uint8Array): boolean {
  if (retryPacket.length < RETRY_INTEGRITY_TAG_LENGTH) return false
  const split = retryPacket.length - RETRY_INTEGRITY_TAG_LENGTH
  const expected = retryIntegrityTag(originalDcid, retryPacket.subarray(0, split))
  return crypto.timingSafeEqual(expected, retryPacket.subarray(split))
}
