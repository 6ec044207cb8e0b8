/**
 * The libp2p Noise handshake payload (libp2p/specs noise/README.md §"The libp2p Handshake Payload"):
 *
 *   message NoiseExtensions {
 *     repeated bytes  webtransport_certhashes = 1;
 *     repeated string stream_muxers           = 2;
 *   }
 *   message NoiseHandshakePayload {
 *     optional bytes           identity_key = 1;  // PublicKey protobuf (peer-ids spec)
 *     optional bytes           identity_sig = 2;  // sig over "noise-libp2p-static-key:" ‖ static key
 *     optional NoiseExtensions extensions   = 4;
 *   }
 *
 * Field 3 (`bytes data`, early data until spec r4) and any unknown field are skipped, as protobuf
 * requires. The payload is the raw protobuf inside the Noise message: no length prefix
 * (rust-libp2p#1658 was exactly that mistake).
 */
import { decodeFields, decodeString, ProtoWriter, WireType } from '../codec/protobuf.js'
import type { ProtoField } from '../codec/protobuf.js'
import { CodecError } from '../errors.js'

export interface NoiseExtensions {
  /** WebTransport certificate hashes (multihashes); never set over TCP. */
  webtransportCerthashes: Uint8Array[]
  /** Early muxer negotiation (connections/inlined-muxer-negotiation.md), in preference order. */
  streamMuxers: string[]
}

export interface NoiseHandshakePayload {
  identityKey: Uint8Array
  identitySig: Uint8Array
  /** Absent when the peer sent no extensions message (rust, nim, old go/js). */
  extensions?: NoiseExtensions
}

const EMPTY = new Uint8Array(0)

export function encodeNoiseExtensions (ext: NoiseExtensions): Uint8Array {
  const w = new ProtoWriter()
  for (const h of ext.webtransportCerthashes) w.bytes(1, h)
  for (const m of ext.streamMuxers) w.string(2, m)
  return w.finish()
}

/** Fields in tag order; `extensions` is written only when given (even an empty one). */
export function encodeNoiseHandshakePayload (p: NoiseHandshakePayload): Uint8Array {
  const w = new ProtoWriter().bytes(1, p.identityKey).bytes(2, p.identitySig)
  if (p.extensions !== undefined) w.bytes(4, encodeNoiseExtensions(p.extensions))
  return w.finish()
}

function expectBytes (f: ProtoField, what: string): Uint8Array {
  if (f.wireType !== WireType.LengthDelimited) {
    throw new CodecError(
      'ERR_PROTOBUF_MALFORMED',
      `noise payload: "${what}" expected wire type 2 (bytes), got ${f.wireType}`
    )
  }
  return f.bytes
}

export function decodeNoiseExtensions (bytes: Uint8Array): NoiseExtensions {
  const ext: NoiseExtensions = { webtransportCerthashes: [], streamMuxers: [] }
  for (const f of decodeFields(bytes)) {
    if (f.field === 1) ext.webtransportCerthashes.push(expectBytes(f, 'webtransport_certhashes'))
    else if (f.field === 2) ext.streamMuxers.push(decodeString(expectBytes(f, 'stream_muxers'), 'stream_muxers entry'))
  }
  return ext
}

/**
 * Decode a payload. Missing `identity_key`/`identity_sig` decode as empty (proto3 peers omit empty
 * fields); the handshake then rejects them as an invalid key / signature. Malformed → CodecError.
 * A repeated singular bytes field: the last one wins; a repeated `extensions`: merged — both as
 * protobuf specifies.
 */
export function decodeNoiseHandshakePayload (bytes: Uint8Array): NoiseHandshakePayload {
  const p: NoiseHandshakePayload = { identityKey: EMPTY, identitySig: EMPTY }
  for (const f of decodeFields(bytes)) {
    switch (f.field) {
      case 1: p.identityKey = expectBytes(f, 'identity_key'); break
      case 2: p.identitySig = expectBytes(f, 'identity_sig'); break
      case 4: {
        // a repeated embedded message merges into the first (protobuf: repeated lists concatenate)
        const ext = decodeNoiseExtensions(expectBytes(f, 'extensions'))
        if (p.extensions === undefined) p.extensions = ext
        else {
          p.extensions.webtransportCerthashes.push(...ext.webtransportCerthashes)
          p.extensions.streamMuxers.push(...ext.streamMuxers)
        }
        break
      }
      default: break // field 3 (retired early data) and unknown fields: skip
    }
  }
  return p
}
