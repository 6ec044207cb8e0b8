/**
 * The HTTP/1.1 upgrade of RFC 6455 §4 as pure functions over bytes: build and check the client's
 * request (§4.1, §4.2.1), build the server's 101 response or HTTP error (§4.2.2), check the response
 * (§4.1). The async driver that reads the head off the socket is upgrade.ts.
 *
 * We speak version 13 only, and negotiate no extension and no subprotocol: a client's
 * `Sec-WebSocket-Extensions` offer (permessage-deflate) is refused by leaving it out of the
 * response (§9.1), and a response that names an extension or a subprotocol we did not offer fails
 * the connection (§4.1 items 5–6).
 *
 * Server answers to a bad request (the connection is closed after the answer):
 *   method other than GET                                   405 Method Not Allowed (Allow: GET)
 *   not HTTP/1.1+, malformed request line or header line,
 *   missing Host, Upgrade: websocket, Connection: Upgrade
 *   or a Sec-WebSocket-Key that is not 16 base64 bytes       400 Bad Request
 *   Sec-WebSocket-Version missing                           400 Bad Request
 *   Sec-WebSocket-Version other than 13                     426 Upgrade Required (Sec-WebSocket-Version: 13, §4.4)
 *   head larger than maxUpgradeBytes                        431 Request Header Fields Too Large
 */
import { createHash } from 'node:crypto'
import { WsError } from '../../errors.js'
import { KEY_NONCE_LENGTH, WEBSOCKET_GUID, WEBSOCKET_VERSION } from './constants.js'

/** A parsed HTTP head: the start line's three parts and the header fields (names lower-cased). */
export interface HttpHead {
  /** Request: method; response: HTTP version. */
  first: string
  /** Request: request-target; response: status code. */
  second: string
  /** Request: HTTP version; response: reason phrase. */
  third: string
  /** Repeated fields are joined with ", " (RFC 9110 §5.3). */
  headers: Map<string, string>
}

const CRLF = '\r\n'

/** Offset just past the blank line ending the head (`\r\n\r\n`) in `buf`, searching from `from`; -1 if absent. */
export function findHeadEnd (buf: Uint8Array, from = 0): number {
  for (let i = Math.max(from, 3); i < buf.length; i++) {
    if (buf[i] === 0x0a && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a && buf[i - 3] === 0x0d) return i + 1
  }
  return -1
}

function handshakeError (message: string, httpStatus?: number): WsError {
  return new WsError('ERR_WS_HANDSHAKE', message, { httpStatus })
}

/**
 * Parse a head (everything up to and including the blank line). Throws WsError (httpStatus 400)
 * for a malformed start line or header line (obsolete line folding included, RFC 9112 §5.2).
 */
export function parseHttpHead (bytes: Uint8Array, kind: 'request' | 'response'): HttpHead {
  // HTTP field bytes are ISO-8859-1 (RFC 9110 §5.5): one char per byte.
  let text = ''
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i] as number)
  const lines = text.split(CRLF)
  const start = lines[0] ?? ''
  const m = kind === 'request'
    ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(start)
    : /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(start)
  if (m === null) throw handshakeError(`HTTP ${kind} line expected, got ${JSON.stringify(start.slice(0, 80))}`, 400)
  const headers = new Map<string, string>()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    if (line === '') continue
    const colon = line.indexOf(':')
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t' || /[\s]/.test(line.slice(0, colon))) {
      throw handshakeError(`HTTP header line expected "name: value", got ${JSON.stringify(line.slice(0, 80))}`, 400)
    }
    const name = line.slice(0, colon).toLowerCase()
    const value = line.slice(colon + 1).trim()
    const prev = headers.get(name)
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`)
  }
  return { first: m[1] as string, second: m[2] as string, third: m[3] ?? '', headers }
}

/** True when the comma-separated header value contains `token` (case-insensitive, RFC 9110 §5.6.1). */
function hasToken (value: string | undefined, token: string): boolean {
  if (value === undefined) return false
  return value.split(',').some(t => t.trim().toLowerCase() === token)
}

/** §4.2.2 item 5.4: base64(SHA-1(key ‖ GUID)). */
export function acceptKey (key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64')
}

function isNonce (key: string): boolean {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return false
  return Buffer.from(key, 'base64').length === KEY_NONCE_LENGTH
}

/** §4.1: the client's opening handshake. `host` is `name:port` (`[v6]:port` for IPv6). */
export function buildUpgradeRequest (host: string, path: string, key: string): Uint8Array {
  return latin1(
    `GET ${path} HTTP/1.1${CRLF}` +
    `Host: ${host}${CRLF}` +
    `Upgrade: websocket${CRLF}` +
    `Connection: Upgrade${CRLF}` +
    `Sec-WebSocket-Key: ${key}${CRLF}` +
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}${CRLF}${CRLF}`)
}

/** A random Sec-WebSocket-Key (§4.1 item 7). */
export function newKey (randomFill: (target: Uint8Array) => void): string {
  const nonce = new Uint8Array(KEY_NONCE_LENGTH)
  randomFill(nonce)
  return Buffer.from(nonce).toString('base64')
}

/**
 * §4.2.1: check a client's request. Returns its Sec-WebSocket-Key; throws WsError with the HTTP
 * status to answer (table at the top).
 */
export function checkUpgradeRequest (head: HttpHead): string {
  const h = head.headers
  if (head.first !== 'GET') throw handshakeError(`HTTP method expected GET, got ${JSON.stringify(head.first)}`, 405)
  if (head.third !== 'HTTP/1.1' && !/^HTTP\/(1\.[1-9]|[2-9]\.\d)$/.test(head.third)) {
    throw handshakeError(`HTTP version expected 1.1 or higher, got ${JSON.stringify(head.third)}`, 400)
  }
  if (h.get('host') === undefined || h.get('host') === '') throw handshakeError('"Host" header expected, got none', 400)
  if (!hasToken(h.get('upgrade'), 'websocket')) {
    throw handshakeError(`"Upgrade" header expected "websocket", got ${JSON.stringify(h.get('upgrade') ?? null)}`, 400)
  }
  if (!hasToken(h.get('connection'), 'upgrade')) {
    throw handshakeError(
      `"Connection" header expected "Upgrade", got ${JSON.stringify(h.get('connection') ?? null)}`,
      400
    )
  }
  const version = h.get('sec-websocket-version')
  if (version === undefined) throw handshakeError('"Sec-WebSocket-Version" header expected 13, got none', 400)
  if (version !== String(WEBSOCKET_VERSION)) {
    throw handshakeError(`"Sec-WebSocket-Version" expected 13, got ${JSON.stringify(version)}`, 426)
  }
  const key = h.get('sec-websocket-key')
  if (key === undefined || !isNonce(key)) {
    throw handshakeError(
      `"Sec-WebSocket-Key" expected 16 base64-encoded bytes, got ${JSON.stringify(key ?? null)}`,
      400
    )
  }
  return key
}

/** §4.2.2 item 5: the 101 answer. No Sec-WebSocket-Extensions / -Protocol: none is negotiated. */
export function buildUpgradeResponse (key: string): Uint8Array {
  return latin1(
    `HTTP/1.1 101 Switching Protocols${CRLF}` +
    `Upgrade: websocket${CRLF}` +
    `Connection: Upgrade${CRLF}` +
    `Sec-WebSocket-Accept: ${acceptKey(key)}${CRLF}${CRLF}`)
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 405: 'Method Not Allowed', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large'
}

/** An HTTP error answer to a refused upgrade (the connection is closed after it). */
export function buildErrorResponse (status: number, message: string): Uint8Array {
  const extra = status === 405
    ? `Allow: GET${CRLF}`
    : status === 426 ? `Upgrade: websocket${CRLF}Sec-WebSocket-Version: ${WEBSOCKET_VERSION}${CRLF}` : ''
  // The body is ASCII only (the message names header values through JSON.stringify).
  const body = message.replace(/[^\x20-\x7e]/g, '?') + '\n'
  return latin1(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}${CRLF}` +
    extra +
    `Connection: close${CRLF}` +
    `Content-Type: text/plain${CRLF}` +
    `Content-Length: ${body.length}${CRLF}${CRLF}${body}`)
}

/** §4.1 (the client's checks of the server's response). Throws WsError ERR_WS_HANDSHAKE. */
export function checkUpgradeResponse (head: HttpHead, key: string): void {
  const h = head.headers
  if (head.second !== '101') {
    throw handshakeError(
      `HTTP status expected 101 Switching Protocols, got ${head.second} ${head.third}`.trimEnd(),
      Number(head.second)
    )
  }
  if (!hasToken(h.get('upgrade'), 'websocket')) {
    throw handshakeError(`"Upgrade" header expected "websocket", got ${JSON.stringify(h.get('upgrade') ?? null)}`)
  }
  if (!hasToken(h.get('connection'), 'upgrade')) {
    throw handshakeError(`"Connection" header expected "Upgrade", got ${JSON.stringify(h.get('connection') ?? null)}`)
  }
  const expected = acceptKey(key)
  if (h.get('sec-websocket-accept') !== expected) {
    throw handshakeError(
      `"Sec-WebSocket-Accept" expected ${expected}, got ${JSON.stringify(h.get('sec-websocket-accept') ?? null)}`
    )
  }
  if (h.get('sec-websocket-extensions') !== undefined) {
    throw handshakeError(
      `"Sec-WebSocket-Extensions" expected none (none offered), got ${
        JSON.stringify(h.get('sec-websocket-extensions'))
      }`
    )
  }
  if (h.get('sec-websocket-protocol') !== undefined) {
    throw handshakeError(
      `"Sec-WebSocket-Protocol" expected none (none offered), got ${JSON.stringify(h.get('sec-websocket-protocol'))}`
    )
  }
}

function latin1 (text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff
  return out
}
