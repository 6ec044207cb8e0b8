/**
 * `/ipfs/id/1.0.0` and `/ipfs/id/push/1.0.0` (libp2p/specs identify/README.md; go-libp2p
 * p2p/protocol/identify/id.go).
 *
 * identify: the peer that wants to know opens the stream; the other side writes its Identify
 * message (uvarint length-prefixed protobuf) and closes. The asker reads length-prefixed messages
 * until EOF — at most `IDENTIFY_MAX_MESSAGES`, each at most `IDENTIFY_MAX_MESSAGE_BYTES` — and
 * merges them (repeated fields append, scalars last-wins), all within `IDENTIFY_TIMEOUT_MS`.
 *
 * identify-push: the informing side opens the stream, writes a (possibly partial) Identify and
 * closes; the receiver reads it the same way and hands the merged update to
 * `ctx.onIdentifyPush`, which applies it with `applyIdentifyUpdate` (absent fields unchanged).
 *
 * Checking that `publicKey` matches the connection's peer id, and parsing the multiaddrs, is the
 * switch's job: those formats belong to other layers.
 */
import type { Stream } from '../connection.js'
import { EndOfStreamError } from '../errors.js'
import { decodeIdentify, emptyIdentify, encodeIdentifyMessages, mergeIdentify } from '../proto/identify.js'
import type { IdentifyMessage } from '../proto/identify.js'
import {
  IDENTIFY_CODEC,
  IDENTIFY_MAX_MESSAGE_BYTES,
  IDENTIFY_MAX_MESSAGES,
  IDENTIFY_PUSH_CODEC,
  IDENTIFY_PUSH_MAX_INBOUND_STREAMS,
  IDENTIFY_TIMEOUT_MS
} from './constants.js'
import { ProtocolError } from './errors.js'
import type { ProtocolContext, ProtocolDefinition, ProtocolHandler } from './types.js'
import { abortWith, checkTimeout, withTimeout } from './util.js'

/** Limits for reading an identify or identify-push stream. */
export interface IdentifyReadOptions {
  /** Deadline for the whole stream, first byte to EOF. Default 5 s. */
  timeoutMs?: number
  /** Largest accepted message. Default 8 KiB. */
  maxMessageBytes?: number
  /** Most messages accepted before EOF. Default 10. */
  maxMessages?: number
}

/** What we tell a peer about ourselves on this connection. */
export function buildIdentify (ctx: ProtocolContext): IdentifyMessage {
  const msg: IdentifyMessage = {
    protocolVersion: ctx.localPeer.protocolVersion,
    agentVersion: ctx.localPeer.agentVersion,
    publicKey: ctx.localPeer.publicKey,
    listenAddrs: [...ctx.localPeer.listenAddrs],
    protocols: ctx.localPeer.protocols()
  }
  if (ctx.remoteAddr !== undefined) msg.observedAddr = ctx.remoteAddr
  const record = ctx.localPeer.signedPeerRecord?.()
  if (record !== undefined) msg.signedPeerRecord = record
  return msg
}

/**
 * Ask the peer who it is, over an already negotiated `/ipfs/id/1.0.0` stream. Resolves with the
 * merged message and closes the stream. On failure the stream is reset and the error thrown:
 * ProtocolError ERR_PROTOCOL_TIMEOUT / ERR_TOO_MANY_MESSAGES / ERR_PROTOCOL_VIOLATION (no message
 * at all), CodecError (oversize or malformed message), or the stream's own errors.
 */
export async function identify (stream: Stream, options: IdentifyReadOptions = {}): Promise<IdentifyMessage> {
  try {
    const { message, count } = await readIdentifyStream(stream, 'identify', options)
    if (count === 0) {
      throw new ProtocolError(
        'ERR_PROTOCOL_VIOLATION',
        'identify: expected at least 1 message before end of stream, got 0'
      )
    }
    await stream.close()
    return message
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/** The identify responder: writes our Identify message, then closes. */
export const identifyHandler: ProtocolHandler = async (stream, _protocol, ctx) => {
  try {
    await writeIdentify(stream, buildIdentify(ctx))
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/**
 * Push an update to the peer over an already negotiated `/ipfs/id/push/1.0.0` stream: write `update`
 * (only the fields that changed, if you like), then close.
 */
export async function identifyPush (stream: Stream, update: IdentifyMessage): Promise<void> {
  try {
    await writeIdentify(stream, update)
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/** The identify-push receiver: reads the update, closes, and hands it to `ctx.onIdentifyPush`. */
export const identifyPushHandler: ProtocolHandler = async (stream, _protocol, ctx) => {
  let update: IdentifyMessage
  try {
    update = (await readIdentifyStream(stream, 'identify-push', {})).message
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
  ctx.onIdentifyPush?.(update)
}

/** `/ipfs/id/1.0.0`, ready to mount. */
export const identifyProtocol: ProtocolDefinition = { codecs: [IDENTIFY_CODEC], handler: identifyHandler }
/** `/ipfs/id/push/1.0.0`, ready to mount. */
export const identifyPushProtocol: ProtocolDefinition = {
  codecs: [IDENTIFY_PUSH_CODEC],
  handler: identifyPushHandler,
  maxIncomingStreams: IDENTIFY_PUSH_MAX_INBOUND_STREAMS
}

async function writeIdentify (stream: Stream, msg: IdentifyMessage): Promise<void> {
  for (const part of encodeIdentifyMessages(msg, IDENTIFY_MAX_MESSAGE_BYTES)) await stream.writeLp(part)
}

/**
 * Read length-prefixed Identify messages until EOF and merge them (go `readAllIDMessages`).
 * Message `maxMessages + 1` is an error rather than silently dropped (go: "too many parts").
 */
async function readIdentifyStream (
  stream: Stream,
  what: string,
  options: IdentifyReadOptions
): Promise<{ message: IdentifyMessage, count: number }> {
  const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? IDENTIFY_TIMEOUT_MS)
  const maxMessageBytes = options.maxMessageBytes ?? IDENTIFY_MAX_MESSAGE_BYTES
  const maxMessages = options.maxMessages ?? IDENTIFY_MAX_MESSAGES
  return await withTimeout(stream, timeoutMs, `${what}: reading the response`, async () => {
    let message = emptyIdentify()
    let count = 0
    for (;;) {
      let bytes: Uint8Array
      try {
        bytes = await stream.readLp(maxMessageBytes)
      } catch (err) {
        if (err instanceof EndOfStreamError) break
        throw err
      }
      if (count === maxMessages) {
        throw new ProtocolError(
          'ERR_TOO_MANY_MESSAGES',
          `${what}: expected at most ${maxMessages} messages before end of stream, got more`
        )
      }
      message = mergeIdentify(message, decodeIdentify(bytes))
      count++
    }
    return { message, count }
  })
}
