/**
 * What a trace shows of QUIC: the machine's QuicTraceEvents as trace-layer events (layer `quic`),
 * frames in one short text each, in RFC 9000 §19 names:
 *
 *   ACK 0-3,5 delay 12      ranges largest first (RFC 9000 §19.3)
 *   CRYPTO 0+280            offset + length
 *   STREAM 4 @0+35 FIN      stream id, offset + length
 *   MAX_STREAM_DATA 4 524288, RESET_STREAM 4 code 0 final 35, CONNECTION_CLOSE 0x0a "reason" …
 *
 * Used by the live adapter (transport.ts) and by the capture decoder, so a live trace and a
 * decoded capture print the same lines. PADDING is summed into one entry.
 */
import type { TraceObserver } from '../../trace/observer.js'
import { FrameType, PacketNumberSpace } from './constants.js'
import type { QuicTraceEvent } from './connection.js'
import type { Frame } from './frame.js'

const NAMES: Record<number, string> = {
  [FrameType.Padding]: 'PADDING',
  [FrameType.Ping]: 'PING',
  [FrameType.Ack]: 'ACK',
  [FrameType.AckEcn]: 'ACK_ECN',
  [FrameType.ResetStream]: 'RESET_STREAM',
  [FrameType.StopSending]: 'STOP_SENDING',
  [FrameType.Crypto]: 'CRYPTO',
  [FrameType.NewToken]: 'NEW_TOKEN',
  [FrameType.Stream]: 'STREAM',
  [FrameType.MaxData]: 'MAX_DATA',
  [FrameType.MaxStreamData]: 'MAX_STREAM_DATA',
  [FrameType.MaxStreamsBidi]: 'MAX_STREAMS_BIDI',
  [FrameType.MaxStreamsUni]: 'MAX_STREAMS_UNI',
  [FrameType.DataBlocked]: 'DATA_BLOCKED',
  [FrameType.StreamDataBlocked]: 'STREAM_DATA_BLOCKED',
  [FrameType.StreamsBlockedBidi]: 'STREAMS_BLOCKED_BIDI',
  [FrameType.StreamsBlockedUni]: 'STREAMS_BLOCKED_UNI',
  [FrameType.NewConnectionId]: 'NEW_CONNECTION_ID',
  [FrameType.RetireConnectionId]: 'RETIRE_CONNECTION_ID',
  [FrameType.PathChallenge]: 'PATH_CHALLENGE',
  [FrameType.PathResponse]: 'PATH_RESPONSE',
  [FrameType.ConnectionClose]: 'CONNECTION_CLOSE',
  [FrameType.ConnectionCloseApp]: 'CONNECTION_CLOSE_APP',
  [FrameType.HandshakeDone]: 'HANDSHAKE_DONE'
}

export function frameName (type: number): string {
  return NAMES[type] ?? `0x${type.toString(16)}`
}

export function describeFrame (f: Frame): string {
  const name = frameName(f.type)
  switch (f.type) {
    case FrameType.Padding:
      return `PADDING ${f.length}`
    case FrameType.Ack:
      return `ACK ${
        f.ranges.map(r => r.smallest === r.largest ? `${r.largest}` : `${r.smallest}-${r.largest}`).join(',')
      } delay ${f.ackDelay}`
    case FrameType.Crypto:
      return `CRYPTO ${f.offset}+${f.data.length}`
    case FrameType.Stream:
      return `STREAM ${f.streamId} @${f.offset}+${f.data.length}${f.fin ? ' FIN' : ''}`
    case FrameType.ResetStream:
      return `RESET_STREAM ${f.streamId} code ${f.errorCode} final ${f.finalSize}`
    case FrameType.StopSending:
      return `STOP_SENDING ${f.streamId} code ${f.errorCode}`
    case FrameType.MaxData:
      return `MAX_DATA ${f.maximum}`
    case FrameType.MaxStreamData:
      return `MAX_STREAM_DATA ${f.streamId} ${f.maximum}`
    case FrameType.MaxStreamsBidi:
    case FrameType.MaxStreamsUni:
      return `${name} ${f.maximum}`
    case FrameType.DataBlocked:
      return `DATA_BLOCKED ${f.limit}`
    case FrameType.StreamDataBlocked:
      return `STREAM_DATA_BLOCKED ${f.streamId} ${f.limit}`
    case FrameType.StreamsBlockedBidi:
    case FrameType.StreamsBlockedUni:
      return `${name} ${f.limit}`
    case FrameType.NewConnectionId:
      return `NEW_CONNECTION_ID seq ${f.sequenceNumber} (${f.connectionId.length} B)`
    case FrameType.RetireConnectionId:
      return `RETIRE_CONNECTION_ID seq ${f.sequenceNumber}`
    case FrameType.ConnectionClose:
    case FrameType.ConnectionCloseApp: {
      const reason = new TextDecoder().decode(f.reason)
      return `${name} 0x${f.errorCode.toString(16)}${reason === '' ? '' : ` "${reason}"`}`
    }
    default: return name
  }
}

/** Frames as trace text, PADDING folded into one entry. */
export function describeFrames (frames: readonly Frame[]): string[] {
  const out: string[] = []
  let padding = 0
  for (const f of frames) {
    if (f.type === FrameType.Padding) padding += f.length
    else out.push(describeFrame(f))
  }
  if (padding > 0) out.push(`PADDING ${padding}`)
  return out
}

export function packetTypeName (space: PacketNumberSpace): string {
  return space === PacketNumberSpace.Initial ? 'Initial' : space === PacketNumberSpace.Handshake ? 'Handshake' : '1-RTT'
}

const SPACE_NAMES = ['Initial', 'Handshake', 'Application']

/** The machine's trace hook, reporting to `observer` (the adapter installs it per connection). */
export function quicTraceReporter (observer: TraceObserver): (e: QuicTraceEvent) => void {
  return (e) => {
    switch (e.type) {
      case 'packet':
        observer.event({
          layer: 'quic',
          kind: 'packet',
          dir: e.dir,
          packetType: packetTypeName(e.space),
          pn: e.pn,
          length: e.size,
          frames: describeFrames(e.frames),
          ...(e.bytes === undefined ? {} : { bytes: e.bytes })
        })
        return
      case 'loss':
        observer.event({
          layer: 'quic',
          kind: 'note',
          message: `loss: ${SPACE_NAMES[e.space] ?? ''} packets ${e.pns.join(', ')} declared lost`
        })
        return
      case 'pto':
        observer.event({
          layer: 'quic',
          kind: 'note',
          message: `PTO #${e.count} in ${SPACE_NAMES[e.space] ?? ''}: probing`
        })
        return
      case 'key-update':
        observer.event({
          layer: 'quic',
          kind: 'note',
          message: `key update (${
            e.initiator === 'local' ? 'we started it' : 'the peer started it'
          }): key phase ${e.keyPhase}`
        })
        return
      case 'retry':
        observer.event({
          layer: 'quic',
          kind: 'note',
          message: `Retry: new DCID ${hex(e.scid)}, token ${e.tokenLength} B (echoed in our Initials)`
        })
        return
      case 'version-negotiation':
        observer.event({
          layer: 'quic',
          kind: 'note',
          message: `Version Negotiation: server offers ${
            e.versions.map(v => `0x${v.toString(16).padStart(8, '0')}`).join(', ')
          }`
        })
        return
      case 'dropped':
        observer.event({ layer: 'quic', kind: 'note', message: `dropped a packet: ${e.reason}` })
    }
  }
}

function hex (b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}
