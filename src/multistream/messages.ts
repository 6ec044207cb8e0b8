/**
 * multistream-select message codec (multistream-select README, message format; multistream-select README, `ls`). Pure
 * and synchronous.
 *
 *   message     = uvarint(len) ‖ UTF-8 text ‖ "\n"        len counts the text AND the newline
 *   ls response = uvarint(len) ‖ message* ‖ "\n"           one outer message of inner messages
 *
 * `MessageReader` takes one message at a time off a chunk queue, so whatever follows the last
 * negotiation message stays queued, byte-exact, for the next layer (rust multistream-select V1Lazy pipelines header,
 * proposal and the next layer's bytes).
 */
import { ChunkQueue } from '../codec/chunk-queue.js'
import { decodeLp } from '../codec/length-prefixed.js'
import { encodeUvarintTo, encodingLength } from '../codec/varint.js'
import { MultistreamError, toError } from '../errors.js'
import { LS, MAX_LS_ENTRIES, MAX_MESSAGE_LENGTH, NA, NEWLINE, PROTOCOL_ID } from './constants.js'

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Encode `text` as one message. Throws TypeError/RangeError for text we must never send: empty,
 * containing a newline, or longer than MAX_MESSAGE_LENGTH with its newline.
 */
export function encodeMessage (text: string): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) {
    throw new TypeError(`"multistream message" expected a non-empty string, got ${JSON.stringify(text)}`)
  }
  if (text.includes('\n')) {
    throw new TypeError(`"multistream message" expected no newline inside, got ${JSON.stringify(text)}`)
  }
  const body = utf8Encoder.encode(text)
  const len = body.length + 1
  if (len > MAX_MESSAGE_LENGTH) {
    throw new RangeError(
      `"multistream message length" expected <= ${MAX_MESSAGE_LENGTH} (including the newline), got ${len} for ${
        JSON.stringify(text.slice(0, 32))
      }…`
    )
  }
  const prefix = encodingLength(len)
  const out = new Uint8Array(prefix + len)
  encodeUvarintTo(len, out, 0)
  out.set(body, prefix)
  out[prefix + body.length] = NEWLINE
  return out
}

/** Bytes `text` takes as a message, newline included: the value of its length prefix. */
export function messageLength (text: string): number {
  return utf8Encoder.encode(text).length + 1
}

/**
 * Several messages in one buffer, for a single write (multistream-select README, the negotiation: header and proposal
 * together).
 */
export { concatBytes } from '../codec/bytes.js'

/** `/multistream/1.0.0\n`, `na\n` and `ls\n`, encoded once. Shared: never mutate. */
export const HEADER_MESSAGE = encodeMessage(PROTOCOL_ID)
export const NA_MESSAGE = encodeMessage(NA)
export const LS_MESSAGE = encodeMessage(LS)

/**
 * The text of a message body (the bytes after the length prefix). A body that is empty, lacks the
 * trailing newline, holds only the newline, or is not UTF-8 is a protocol violation (multistream-select README, message
 * format).
 */
export function decodeMessageBody (body: Uint8Array): string {
  const len = body.length
  if (len === 0 || body[len - 1] !== NEWLINE) {
    throw new MultistreamError(
      'ERR_MULTISTREAM_PROTOCOL',
      `"multistream message" expected a trailing newline, got ${
        len === 0
          ? 'an empty message'
          : `${len} bytes ending in 0x${(body[len - 1] as number).toString(16).padStart(2, '0')} (${preview(body)})`
      }`
    )
  }
  if (len === 1) {
    throw new MultistreamError(
      'ERR_MULTISTREAM_PROTOCOL',
      '"multistream message" expected text before the newline, got an empty line'
    )
  }
  try {
    return utf8Decoder.decode(body.subarray(0, len - 1))
  } catch (err) {
    throw new MultistreamError(
      'ERR_MULTISTREAM_PROTOCOL',
      `"multistream message" expected UTF-8 text, got ${preview(body)}`,
      { cause: err }
    )
  }
}

/** The `ls` response body for `protocols` (multistream-select README, `ls`), wrapped in its outer length prefix. */
export function encodeLsResponse (protocols: readonly string[]): Uint8Array {
  const inner = protocols.map(encodeMessage)
  let bodyLength = 1 // the final "\n"
  for (const m of inner) bodyLength += m.length
  const prefix = encodingLength(bodyLength)
  const out = new Uint8Array(prefix + bodyLength)
  let offset = encodeUvarintTo(bodyLength, out, 0)
  for (const m of inner) { out.set(m, offset); offset += m.length }
  out[offset] = NEWLINE
  return out
}

/**
 * Parse an `ls` response body (outer prefix already removed): inner messages of at most
 * `maxEntryLength` bytes each, then a final "\n". nim-libp2p answers with one message
 * `proto1\nproto2\n…` instead (multistream-select README, `ls`); that form is accepted as a fallback when the body is
 * not in the spec's form.
 */
export function decodeLsResponse (body: Uint8Array, maxEntryLength: number = MAX_MESSAGE_LENGTH): string[] {
  try {
    return decodeSpecLs(body, maxEntryLength)
  } catch (err) {
    const text = tryNimLs(body)
    if (text !== undefined) return text
    throw err
  }
}

function decodeSpecLs (body: Uint8Array, maxEntryLength: number): string[] {
  const end = body.length - 1
  if (end < 0 || body[end] !== NEWLINE) {
    throw new MultistreamError(
      'ERR_MULTISTREAM_PROTOCOL',
      `"ls response" expected a final newline, got ${preview(body)}`
    )
  }
  const out: string[] = []
  let offset = 0
  while (offset < end) {
    if (out.length === MAX_LS_ENTRIES) {
      throw new MultistreamError(
        'ERR_MULTISTREAM_PROTOCOL',
        `"ls response entries" expected <= ${MAX_LS_ENTRIES}, got more`
      )
    }
    let r: [Uint8Array, number] | undefined
    try {
      r = decodeLp(body.subarray(0, end), offset, maxEntryLength)
    } catch (err) {
      throw new MultistreamError('ERR_MULTISTREAM_PROTOCOL', `"ls response entry" at offset ${offset} is malformed`, {
        cause: err
      })
    }
    if (r === undefined) {
      throw new MultistreamError(
        'ERR_MULTISTREAM_PROTOCOL',
        `"ls response entry" at offset ${offset} expected a whole message before the final newline, got a truncated one`
      )
    }
    out.push(decodeMessageBody(r[0]))
    offset += r[1]
  }
  return out
}

function tryNimLs (body: Uint8Array): string[] | undefined {
  if (body.length < 2 || body[0] !== 0x2f /* '/' */ || body[body.length - 1] !== NEWLINE) return undefined
  let text: string
  try { text = utf8Decoder.decode(body.subarray(0, body.length - 1)) } catch { return undefined }
  const entries = text.split('\n')
  if (entries.length > MAX_LS_ENTRIES || entries.some(e => e.length === 0)) return undefined
  return entries
}

/**
 * Incremental reader of length-prefixed messages, one at a time.
 *
 * 1. The prefix is read as soon as its bytes are there; a length above the limit is refused
 *    before any of the body is buffered (the limit is checked at the length prefix). An incomplete prefix that already
 * has
 *    as many bytes as the limit's own prefix is refused too (js caps the listener's prefix at 2 bytes).
 * 2. The body is taken once all of it has arrived: a view into the chunk when it sits in one.
 * 3. Nothing past the message is parsed: `drain()` returns it untouched for the next layer.
 */
export class MessageReader {
  private readonly queue = new ChunkQueue()
  /** Declared length of the message whose prefix was consumed, or -1 between messages. */
  private pending = -1

  push (chunk: Uint8Array): void {
    this.queue.push(chunk)
  }

  /** Bytes buffered and not yet returned. */
  get buffered (): number { return this.queue.length }

  /** True while part of a message (a prefix, or a body) has been received. */
  get midMessage (): boolean { return this.pending >= 0 || this.queue.length > 0 }

  /** The next whole message body (text + newline), or undefined until more bytes arrive. */
  nextFrame (maxLength: number = MAX_MESSAGE_LENGTH): Uint8Array | undefined {
    if (this.pending < 0) {
      let length: number | undefined
      try {
        length = this.queue.readUvarint()
      } catch (err) {
        throw new MultistreamError(
          'ERR_MULTISTREAM_PROTOCOL',
          `"multistream message length prefix" is not a valid varint: ${toError(err).message}`,
          { cause: err }
        )
      }
      if (length === undefined) {
        const n = encodingLength(maxLength)
        if (this.queue.length >= n) {
          throw tooLarge(maxLength, `>= ${2 ** (7 * n)} (a length prefix longer than ${n} bytes)`)
        }
        return undefined
      }
      if (length > maxLength) throw tooLarge(maxLength, String(length))
      this.pending = length
    }
    if (this.queue.length < this.pending) return undefined
    const body = this.queue.consume(this.pending)
    this.pending = -1
    return body
  }

  /** The next whole message of at most `maxLength` bytes as text (validated), or undefined until more bytes arrive. */
  nextMessage (maxLength: number = MAX_MESSAGE_LENGTH): string | undefined {
    const frame = this.nextFrame(maxLength)
    return frame === undefined ? undefined : decodeMessageBody(frame)
  }

  /** Every byte after the last message taken: what belongs to the next layer. */
  drain (): Uint8Array[] {
    if (this.pending >= 0) throw new Error('MessageReader.drain() called in the middle of a message')
    return this.queue.drainAll()
  }
}

function tooLarge (limit: number, got: string): MultistreamError {
  return new MultistreamError(
    'ERR_MESSAGE_TOO_LARGE',
    `"multistream message length" expected <= ${limit} (including the newline), got ${got}`
  )
}

/** Short printable form of received bytes for error messages. */
export function preview (bytes: Uint8Array): string {
  const head = bytes.subarray(0, 32)
  let printable = true
  for (const b of head) if (b < 0x20 || b > 0x7e) { if (b !== NEWLINE) { printable = false; break } }
  const more = bytes.length > head.length ? '…' : ''
  if (printable) return JSON.stringify(String.fromCharCode(...head)) + more
  return `0x${Array.from(head, b => b.toString(16).padStart(2, '0')).join('')}${more}`
}
