/**
 * Noise's key log lines (`--keylog`), formatted here in the security layer so the keys leave it
 * only as the text a key log sink receives (SecureConnectionOptions.keyLog). The format, and the
 * parser `switchyard decode` reads it with, are described in src/trace/keylog.ts.
 *
 *   SWITCHYARD_NOISE <local> <remote> <role> <k_i2r> <k_r2i> <h>
 *   SWITCHYARD_NOISE_HANDSHAKE <local> <remote> <role> <k_ee> <k_es> <k_se>
 */
export const KEYLOG_TRANSPORT_LABEL = 'SWITCHYARD_NOISE'
export const KEYLOG_HANDSHAKE_LABEL = 'SWITCHYARD_NOISE_HANDSHAKE'
/** Bytes of every key and of `h` (ChaChaPoly key, SHA-256 output). */
export const KEYLOG_KEY_LENGTH = 32

/** The keys of one connection, from the point of view of the side that logged them. */
export interface NoiseKeys {
  localAddr: string
  remoteAddr: string
  role: 'initiator' | 'responder'
  /** k1 of Split(): initiator → responder. */
  initiatorToResponder: Uint8Array
  /** k2 of Split(): responder → initiator. */
  responderToInitiator: Uint8Array
  /** Handshake hash after message 3. */
  handshakeHash: Uint8Array
  /** MixKey keys after the ee, es and se tokens, when logged. */
  handshakeKeys?: { ee: Uint8Array, es: Uint8Array, se: Uint8Array }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function checkKey (what: string, b: Uint8Array): void {
  if (b.length !== KEYLOG_KEY_LENGTH) {
    throw new RangeError(`"${what}" expected ${KEYLOG_KEY_LENGTH} bytes, got ${b.length}`)
  }
}

function checkAddr (what: string, a: string): void {
  if (a.length === 0 || /\s/.test(a)) {
    throw new TypeError(`"${what}" expected a multiaddr without spaces, got ${JSON.stringify(a)}`)
  }
}

/** The key log lines of one connection (one or two lines, each ending in "\n"). */
export function formatKeyLog (k: NoiseKeys): string {
  checkAddr('local address', k.localAddr)
  checkAddr('remote address', k.remoteAddr)
  checkKey('k_i2r', k.initiatorToResponder)
  checkKey('k_r2i', k.responderToInitiator)
  checkKey('handshake hash', k.handshakeHash)
  const head = `${k.localAddr} ${k.remoteAddr} ${k.role}`
  let out = `${KEYLOG_TRANSPORT_LABEL} ${head} ${hex(k.initiatorToResponder)} ${hex(k.responderToInitiator)} ${
    hex(k.handshakeHash)
  }\n`
  const hk = k.handshakeKeys
  if (hk !== undefined) {
    checkKey('k_ee', hk.ee); checkKey('k_es', hk.es); checkKey('k_se', hk.se)
    out += `${KEYLOG_HANDSHAKE_LABEL} ${head} ${hex(hk.ee)} ${hex(hk.es)} ${hex(hk.se)}\n`
  }
  return out
}

/** The same lines one by one, without their newline (what a `keyLog` sink receives). */
export function noiseKeyLogLines (k: NoiseKeys): string[] {
  return formatKeyLog(k).split('\n').filter(l => l.length > 0)
}
