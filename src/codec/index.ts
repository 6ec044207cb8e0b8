/**
 * `switchyard/codec`: the byte-level codecs every layer shares — unsigned varints
 * (multiformats/unsigned-varint), unsigned-varint length-prefixed messages, protobuf (proto2/proto3
 * wire format, libp2p specs identify, noise, peer-ids messages) and the chunk queue the decoders read
 * from. Pure and synchronous; bad input is a CodecError/VarintError with a stable code.
 */
export {
  MAX_VARINT_BYTES, MAX_SAFE_VARINT, NEED_MORE_BYTES, encodingLength, encodeUvarint, encodeUvarintTo, decodeUvarint,
  decodeUvarintValue
} from './varint.js'
export { DEFAULT_MAX_LP_LENGTH, encodeLp, encodeLpPrefix, decodeLp, LpDecoder } from './length-prefixed.js'
export { WireType, MAX_FIELD_NUMBER, ProtoWriter, decodeFields, decodeString } from './protobuf.js'
export type { ProtoField, DecodeFieldsOptions } from './protobuf.js'
export { ChunkQueue } from './chunk-queue.js'
export { concatBytes } from './bytes.js'
export { CodecError, VarintError } from '../errors.js'
