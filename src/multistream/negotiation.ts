/**
 * multistream-select 1.0 as two sans-I/O state machines. They take received bytes
 * and return what to send; they never touch a socket, a timer or a promise. negotiate.ts drives them
 * over a ByteConnection or a Stream.
 *
 * Dialer (multistream-select README, the negotiation; go-multistream lazyClient.go, rust multistream-select V1Lazy):
 *
 *   start()        -> "/multistream/1.0.0\n" + "<p0>\n"       ONE flight; never wait for the
 *                                                             listener's header (rust, js and nim listeners send their
 * header only after the dialer's)
 *   <- "/multistream/1.0.0\n"                                 must be the first message
 *   <- "<p0>\n"    -> done(p0)                                 echo = accepted
 *   <- "na\n"      -> "<p1>\n" … or ProtocolNotSupportedError  after the last refusal
 *
 *   Lazy (optimistic) form: with exactly one protocol the caller may treat it as selected right
 *   after start() and send application data behind the proposal; the header and echo are then
 *   checked on the first read (rust V1Lazy, go lazyClient, js negotiateFully:false).
 *
 * Listener:
 *
 *   <- "/multistream/1.0.0\n" -> "/multistream/1.0.0\n"      only after receiving it (rust/js/nim)
 *   <- "<p>\n"     -> "<p>\n" done(p)  if we have p
 *                  -> "na\n"           otherwise (also for a repeated header, like go and nim)
 *   <- "ls\n"      -> ls response      (multistream-select README, `ls`)
 *
 * Limit: every machine takes `maxMessageBytes` (default and ceiling MAX_MESSAGE_LENGTH, see
 * `resolveMaxMessageBytes`); a longer message is refused when its length prefix arrives, before its
 * body is buffered (MultistreamError ERR_MESSAGE_TOO_LARGE; the limit is checked at the length prefix).
 *
 * Every answer produced by one chunk is returned in one `send` batch (the README's "header and first
 * answer in the same packet"). Bytes after the final message are returned untouched as `leftover`
 * (rust multistream-select V1Lazy pipelines `header + /noise + Noise msg1`).
 *
 * Tracing: given an `observer` (src/trace/observer.ts), each machine reports every message it sends
 * or parses; without one nothing is built (one `undefined` check per message).
 */
import {
  MultistreamError,
  ProtocolNotSupportedError,
  StreamResetError,
  SwitchyardError,
  TransportError,
  protocolForDisplay
} from '../errors.js'
import type { TraceObserver } from '../trace/observer.js'
import { HEADER_MESSAGE_LENGTH, LS, MAX_LS_RESPONSE_LENGTH, MAX_MESSAGE_LENGTH, NA, PROTOCOL_ID } from './constants.js'
import {
  HEADER_MESSAGE,
  LS_MESSAGE,
  MessageReader,
  NA_MESSAGE,
  decodeLsResponse,
  encodeLsResponse,
  encodeMessage,
  messageLength
} from './messages.js'

/** What one `receive` produced. */
export interface NegotiationStep {
  /** Bytes to write now, in order, as one batch (possibly none). */
  send: Uint8Array[]
  /** Set once the negotiation has finished: the agreed protocol. */
  protocol: string | undefined
  /**
   * Bytes received after the last multistream message; they belong to the next layer. Empty until `protocol` is set.
   */
  leftover: Uint8Array[]
}

const enum DialerState { Initial, AwaitHeader, AwaitAnswer, Done, Failed }
const enum ListenerState { AwaitHeader, AwaitProposal, Done, Failed }

/**
 * Validate the `maxMessageBytes` option: the largest message accepted from the peer, length prefix
 * value with the newline, HEADER_MESSAGE_LENGTH (19) … MAX_MESSAGE_LENGTH (1024); default 1024.
 *
 * Why the ceiling is 1024 and not rust's 16383 (go-multistream, js-libp2p and nim-libp2p cap messages at 1024 bytes,
 * rust-libp2p at 16383): the limit bounds what a peer may make
 * us buffer, and every message a negotiation can succeed with is at most 1024 bytes: the header,
 * `na`, and protocol ids, which we never send longer (encodeMessage; go, js and nim refuse them
 * too) and so never mount longer (switch `checkCodecs`). A longer message can only be a proposal we
 * would refuse, or garbage; a higher ceiling would only turn that error into an `na` to a rust
 * dialer, at up to 16 times the bytes an unauthenticated peer may make us buffer per message.
 * Lower limits suit deployments whose protocol ids are all short.
 */
export function resolveMaxMessageBytes (value: number | undefined): number {
  if (value === undefined) return MAX_MESSAGE_LENGTH
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(
      `"maxMessageBytes" expected an integer number of bytes, got ${typeof value === 'number' ? value : typeof value}`
    )
  }
  if (value < HEADER_MESSAGE_LENGTH || value > MAX_MESSAGE_LENGTH) {
    throw new RangeError(
      `"maxMessageBytes" expected ${HEADER_MESSAGE_LENGTH} … ${MAX_MESSAGE_LENGTH} (the header's length … what go, js and nim accept), got ${value}`
    )
  }
  return value
}

function assertProtocolId (p: unknown, what: string): asserts p is string {
  if (typeof p !== 'string' || p.length === 0) {
    throw new TypeError(`"${what}" expected a non-empty protocol id, got ${JSON.stringify(p)}`)
  }
  if (p === PROTOCOL_ID || p === NA || p === LS) {
    throw new TypeError(`"${what}" expected a protocol id, got the reserved message ${JSON.stringify(p)}`)
  }
}

/** Report one message (only called when there is an observer). */
function traceMessage (observer: TraceObserver, dir: 'in' | 'out', message: string, bytes?: Uint8Array): void {
  observer.event({ layer: 'multistream', kind: 'message', dir, message, bytes: bytes ?? encodeMessage(message) })
}

function quote (s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)
}

export interface DialerOptions {
  /**
   * Optimistic negotiation (go-multistream lazyClient.go, rust multistream-select V1Lazy): with a single protocol,
   * `optimistic` is true and the
   * caller may send application data right after `start()`'s bytes, without waiting for the echo.
   * With several protocols this is ignored (a refusal must be answered by the next proposal).
   */
  lazy?: boolean
  /**
   * Largest message accepted from the listener (`resolveMaxMessageBytes`). Never below our own
   * longest proposal: its echo is what we asked for, so the limit is raised to fit it.
   */
  maxMessageBytes?: number
  /** Trace hook: every message sent and received. */
  observer?: TraceObserver
}

/** Options of the Listener and the LsRequest. */
export interface MachineOptions {
  /** Largest message accepted from the peer (`resolveMaxMessageBytes`; default 1024). */
  maxMessageBytes?: number
  /** Trace hook: every message sent and received. */
  observer?: TraceObserver
}

/** The initiator's side of one negotiation. */
export class Dialer {
  readonly protocols: readonly string[]
  /** True when the caller may use `protocols[0]` before the listener answered (lazy, one protocol). */
  readonly optimistic: boolean
  /** Largest message accepted from the listener (the option, raised to our longest proposal). */
  readonly maxMessageBytes: number
  private readonly reader = new MessageReader()
  private state = DialerState.Initial
  private index = 0
  private readonly observer: TraceObserver | undefined

  constructor (protocols: readonly string[], options: DialerOptions = {}) {
    if (!Array.isArray(protocols) || protocols.length === 0) {
      throw new TypeError(`"protocols" expected at least one protocol id, got ${JSON.stringify(protocols)}`)
    }
    protocols.forEach((p, i) => assertProtocolId(p, `protocols[${i}]`))
    this.protocols = Object.freeze([...protocols])
    this.optimistic = options.lazy === true && protocols.length === 1
    this.observer = options.observer
    let limit = resolveMaxMessageBytes(options.maxMessageBytes)
    // Only a lowered limit can be below a proposal (longer ones than the default are never sent).
    if (limit < MAX_MESSAGE_LENGTH) {
      for (const p of protocols) limit = Math.min(MAX_MESSAGE_LENGTH, Math.max(limit, messageLength(p)))
    }
    this.maxMessageBytes = limit
  }

  /** True once a protocol was agreed (or, when optimistic, verified). */
  get done (): boolean { return this.state === DialerState.Done }

  /** Protocols proposed so far. */
  get tried (): readonly string[] { return this.protocols.slice(0, this.index + 1) }

  /** The first flight: header and first proposal, to be written together. */
  start (): Uint8Array[] {
    if (this.state !== DialerState.Initial) throw new Error('Dialer.start() called twice')
    this.state = DialerState.AwaitHeader
    const proposal = encodeMessage(this.protocols[0] as string)
    const obs = this.observer
    if (obs !== undefined) {
      traceMessage(obs, 'out', PROTOCOL_ID, HEADER_MESSAGE)
      traceMessage(obs, 'out', this.protocols[0] as string, proposal)
    }
    return [HEADER_MESSAGE, proposal]
  }

  /**
   * Feed received bytes. Throws MultistreamError for a protocol violation and
   * ProtocolNotSupportedError when the listener refused every proposal.
   */
  receive (chunk: Uint8Array): NegotiationStep {
    if (this.state === DialerState.Initial) throw new Error('Dialer.receive() before start()')
    if (this.state === DialerState.Done || this.state === DialerState.Failed) {
      throw new Error('Dialer.receive() after the negotiation ended')
    }
    this.reader.push(chunk)
    const send: Uint8Array[] = []
    try {
      for (;;) {
        const msg = this.reader.nextMessage(this.maxMessageBytes)
        if (msg === undefined) return { send, protocol: undefined, leftover: [] }
        if (this.observer !== undefined) traceMessage(this.observer, 'in', msg)
        if (this.state === DialerState.AwaitHeader) {
          expectHeader(msg)
          this.state = DialerState.AwaitAnswer
          continue
        }
        const proposed = this.protocols[this.index] as string
        if (msg === proposed) {
          this.state = DialerState.Done
          return { send, protocol: proposed, leftover: this.reader.drain() }
        }
        if (msg !== NA) {
          throw new MultistreamError(
            'ERR_MULTISTREAM_PROTOCOL',
            `answer to ${quote(proposed)} expected the same id or "na", got ${quote(msg)}`
          )
        }
        if (this.index + 1 >= this.protocols.length) throw new ProtocolNotSupportedError(this.tried)
        this.index++
        const next = encodeMessage(this.protocols[this.index] as string)
        if (this.observer !== undefined) traceMessage(this.observer, 'out', this.protocols[this.index] as string, next)
        send.push(next)
      }
    } catch (err) {
      this.state = DialerState.Failed
      throw err
    }
  }

  /** The input ended before the negotiation finished: the error to report. */
  endOfInput (): MultistreamError {
    const awaitingHeader = this.state === DialerState.AwaitHeader
    this.state = DialerState.Failed
    const cut = endedMidMessage(this.reader)
    if (cut !== undefined) return cut
    const proposed = quote(this.protocols[this.index] as string)
    return new MultistreamError('ERR_UNEXPECTED_EOF', awaitingHeader
      ? `connection ended before the listener sent the multistream header (we proposed ${proposed})`
      : `connection ended while waiting for the answer to ${proposed}`)
  }

  /**
   * The connection or stream failed (`err`) before the negotiation finished. A reset is reported
   * as the same kind of error (TransportError ERR_CONNECTION_RESET, StreamResetError) saying which
   * answer we were waiting for, `err` as its cause; any other failure is returned unchanged.
   */
  connectionLost (err: Error, channel: Channel = 'connection'): Error {
    const awaitingHeader = this.state === DialerState.AwaitHeader
    this.state = DialerState.Failed
    if (!isReset(err)) return err
    const proposed = protocolForDisplay(this.protocols[this.index] as string)
    return resetError(err, awaitingHeader
      ? `peer reset the ${channel} before sending the multistream header (we proposed ${proposed})`
      : `peer reset the ${channel} before answering our proposal of ${proposed} (multistream)`)
  }
}

/** What a negotiation runs over, for messages. */
export type Channel = 'connection' | 'stream'

function isReset (err: Error): err is SwitchyardError {
  return err instanceof SwitchyardError && (err.code === 'ERR_CONNECTION_RESET' || err.code === 'ERR_STREAM_RESET')
}

/** A reset with a message that names the multistream stage, of the same class and code as `err`. */
function resetError (err: SwitchyardError, message: string): SwitchyardError {
  if (err instanceof StreamResetError) return new StreamResetError(message, { cause: err })
  return new TransportError(err.code, message, { cause: err })
}

/** `peer proposed /tls/1.0.0, which we do not support (multistream: na)` */
function refusal (refused: readonly string[]): string {
  return `peer proposed ${refused.map(protocolForDisplay).join(', ')}, which we do not support (multistream: na)`
}

/** A Listener's validated, frozen copy of its protocols and each one's encoded echo. */
interface ListenerAnswers {
  readonly protocols: readonly string[]
  readonly echoes: ReadonlyMap<string, Uint8Array>
}

/**
 * The answers of the last protocol lists listeners were built from, by list identity. The switch
 * passes the same list for every inbound stream (issue #15): validating and encoding every mounted
 * id per stream was the largest multistream cost on the listener's side of many new streams. The
 * entry is reused only while the list still holds the same ids in the same order (a caller may
 * mutate its array), so the answers are always those of the list given.
 */
const answersByList = new WeakMap<readonly string[], ListenerAnswers>()

function listenerAnswers (protocols: readonly string[]): ListenerAnswers {
  if (!Array.isArray(protocols)) {
    throw new TypeError(`"protocols" expected an array of protocol ids, got ${typeof protocols}`)
  }
  const cached = answersByList.get(protocols)
  if (cached !== undefined && sameIds(cached.protocols, protocols)) return cached
  const echoes = new Map<string, Uint8Array>()
  protocols.forEach((p, i) => {
    assertProtocolId(p, `protocols[${i}]`)
    // Encoding up front validates each id (length, newline) once, and the echo is then a lookup.
    echoes.set(p, encodeMessage(p))
  })
  const answers: ListenerAnswers = { protocols: Object.freeze([...protocols]), echoes }
  answersByList.set(protocols, answers)
  return answers
}

function sameIds (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The responder's side of one negotiation. */
export class Listener {
  readonly protocols: readonly string[]
  /** Proposals we answered with `na`, oldest first (at most the last 16). */
  readonly refused: string[] = []
  /**
   * Largest message accepted from the dialer. A mounted protocol longer than this can never be
   * selected: its proposal is refused as too large.
   */
  readonly maxMessageBytes: number
  private readonly echoes: ReadonlyMap<string, Uint8Array>
  private lsResponse: Uint8Array | undefined
  private readonly reader = new MessageReader()
  private state = ListenerState.AwaitHeader
  private readonly observer: TraceObserver | undefined

  constructor (protocols: readonly string[], options: MachineOptions = {}) {
    this.observer = options.observer
    this.maxMessageBytes = resolveMaxMessageBytes(options.maxMessageBytes)
    const answers = listenerAnswers(protocols)
    this.protocols = answers.protocols
    this.echoes = answers.echoes
  }

  get done (): boolean { return this.state === ListenerState.Done }

  /** Feed received bytes. Throws MultistreamError for a protocol violation. */
  receive (chunk: Uint8Array): NegotiationStep {
    if (this.state === ListenerState.Done || this.state === ListenerState.Failed) {
      throw new Error('Listener.receive() after the negotiation ended')
    }
    this.reader.push(chunk)
    const send: Uint8Array[] = []
    try {
      for (;;) {
        const msg = this.reader.nextMessage(this.maxMessageBytes)
        if (msg === undefined) return { send, protocol: undefined, leftover: [] }
        const obs = this.observer
        if (obs !== undefined) traceMessage(obs, 'in', msg)
        if (this.state === ListenerState.AwaitHeader) {
          expectHeader(msg)
          // Answer the header only now that we received one (rust/js/nim; multistream-select README, the negotiation).
          send.push(HEADER_MESSAGE)
          if (obs !== undefined) traceMessage(obs, 'out', PROTOCOL_ID, HEADER_MESSAGE)
          this.state = ListenerState.AwaitProposal
          continue
        }
        const echo = this.echoes.get(msg)
        if (echo !== undefined) {
          send.push(echo)
          if (obs !== undefined) traceMessage(obs, 'out', msg, echo)
          this.state = ListenerState.Done
          // Our own copy of the id, not the one just decoded: every open stream keeps it (issue #15).
          const protocol = this.protocols[this.protocols.indexOf(msg)] as string
          return { send, protocol, leftover: this.reader.drain() }
        }
        if (msg === LS) {
          this.lsResponse ??= encodeLsResponse(this.protocols)
          send.push(this.lsResponse)
          if (obs !== undefined) {
            obs.event({
              layer: 'multistream',
              kind: 'ls',
              dir: 'out',
              protocols: [...this.protocols],
              bytes: this.lsResponse
            })
          }
          continue
        }
        if (this.refused.length === 16) this.refused.shift()
        this.refused.push(msg)
        send.push(NA_MESSAGE)
        if (obs !== undefined) traceMessage(obs, 'out', NA, NA_MESSAGE)
      }
    } catch (err) {
      this.state = ListenerState.Failed
      // rust-libp2p#1871: garbage right after our "na" is usually a lazy dialer's application data
      // for a protocol we refused (a rust dialer's `/tls/1.0.0` + ClientHello): the refusal is the
      // cause, the garbage only its consequence.
      if (err instanceof MultistreamError && this.refused.length > 0) {
        throw new MultistreamError(
          'ERR_PROTOCOL_NOT_SUPPORTED',
          `${refusal(this.refused)}; what followed was not multistream (${err.message})`,
          { cause: err }
        )
      }
      throw err
    }
  }

  /** The input ended before the negotiation finished: the error to report. */
  endOfInput (): MultistreamError {
    const awaitingHeader = this.state === ListenerState.AwaitHeader
    this.state = ListenerState.Failed
    const cut = endedMidMessage(this.reader)
    if (cut !== undefined) return cut
    if (awaitingHeader) {
      return new MultistreamError(
        'ERR_UNEXPECTED_EOF',
        'connection ended before the dialer sent the multistream header'
      )
    }
    if (this.refused.length > 0) {
      return new MultistreamError('ERR_PROTOCOL_NOT_SUPPORTED', `${refusal(this.refused)}, then ended the connection`)
    }
    return new MultistreamError('ERR_UNEXPECTED_EOF', 'connection ended before the dialer proposed a protocol')
  }

  /**
   * The connection or stream failed (`err`) before the negotiation finished. After a refusal the
   * refusal is the cause (go-libp2p closes a connection whose proposals we refused with unread
   * bytes in its buffer, so we see a TCP RST): ERR_PROTOCOL_NOT_SUPPORTED with `err` as cause. A
   * reset otherwise becomes a MultistreamError naming the stage; any other failure is returned unchanged.
   */
  connectionLost (err: Error, channel: Channel = 'connection'): Error {
    const awaitingHeader = this.state === ListenerState.AwaitHeader
    this.state = ListenerState.Failed
    if (this.refused.length > 0) {
      return new MultistreamError(
        'ERR_PROTOCOL_NOT_SUPPORTED',
        `${refusal(this.refused)}, then ${isReset(err) ? 'reset' : 'lost'} the ${channel}`,
        { cause: err }
      )
    }
    if (!isReset(err)) return err
    return resetError(err, awaitingHeader
      ? `peer reset the ${channel} before sending the multistream header`
      : `peer reset the ${channel} before proposing a protocol (multistream)`)
  }
}

/** The dialer's `ls` request (multistream-select README, `ls`): header + `ls`, then the listener's protocol list. */
export class LsRequest {
  private readonly reader = new MessageReader()
  private headerSeen = false
  private finished = false
  private readonly observer: TraceObserver | undefined
  /** Largest header, and largest entry of the response, accepted (the response itself: MAX_LS_RESPONSE_LENGTH). */
  readonly maxMessageBytes: number

  constructor (options: MachineOptions = {}) {
    this.observer = options.observer
    this.maxMessageBytes = resolveMaxMessageBytes(options.maxMessageBytes)
  }

  /** Header and `ls` in one flight. */
  start (): Uint8Array[] {
    if (this.observer !== undefined) {
      traceMessage(this.observer, 'out', PROTOCOL_ID, HEADER_MESSAGE)
      traceMessage(this.observer, 'out', LS, LS_MESSAGE)
    }
    return [HEADER_MESSAGE, LS_MESSAGE]
  }

  /**
   * Feed received bytes; returns the listener's protocols once the response is complete.
   * A listener without `ls` (go-multistream since it was removed) answers `na`: that is a
   * ProtocolNotSupportedError(['ls']).
   */
  receive (chunk: Uint8Array): string[] | undefined {
    if (this.finished) throw new Error('LsRequest.receive() after the request ended')
    this.reader.push(chunk)
    try {
      if (!this.headerSeen) {
        const msg = this.reader.nextMessage(this.maxMessageBytes)
        if (msg === undefined) return undefined
        if (this.observer !== undefined) traceMessage(this.observer, 'in', msg)
        expectHeader(msg)
        this.headerSeen = true
      }
      const body = this.reader.nextFrame(MAX_LS_RESPONSE_LENGTH)
      if (body === undefined) return undefined
      this.finished = true
      if (body.length === 3 && body[0] === 0x6e && body[1] === 0x61 && body[2] === 0x0a) {
        if (this.observer !== undefined) traceMessage(this.observer, 'in', NA, NA_MESSAGE)
        throw new ProtocolNotSupportedError([LS])
      }
      const protocols = decodeLsResponse(body, this.maxMessageBytes)
      if (this.observer !== undefined) {
        this.observer.event({ layer: 'multistream', kind: 'ls', dir: 'in', protocols, bytes: body })
      }
      return protocols
    } catch (err) {
      this.finished = true
      throw err
    }
  }

  connectionLost (err: Error): Error {
    this.finished = true
    return err
  }

  endOfInput (): MultistreamError {
    this.finished = true
    return new MultistreamError('ERR_UNEXPECTED_EOF', this.headerSeen
      ? 'connection ended before the listener answered "ls"'
      : 'connection ended before the listener sent the multistream header')
  }
}

/** Each side's first message is the multistream header (multistream-select README); the same check everywhere. */
function expectHeader (msg: string): void {
  if (msg === PROTOCOL_ID) return
  throw new MultistreamError(
    'ERR_MULTISTREAM_PROTOCOL',
    `multistream header expected ${quote(PROTOCOL_ID)}, got ${quote(msg)}`
  )
}

/** The input ended inside a message: the same error for every machine. */
function endedMidMessage (reader: MessageReader): MultistreamError | undefined {
  if (!reader.midMessage) return undefined
  return new MultistreamError(
    'ERR_UNEXPECTED_EOF',
    `connection ended in the middle of a multistream message (${reader.buffered} bytes buffered)`
  )
}
