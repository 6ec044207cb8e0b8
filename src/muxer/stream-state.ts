/**
 * The wire-level state of one yamux stream (spec §Stream Establishment/Closing/Reset), kept apart
 * from the application-facing `MuxedStream`. Pure: it decides which flags go on our frames and
 * what the peer's flags mean; it sends nothing itself.
 *
 * Opening (spec §Stream Establishment; names as in go-yamux `streamState`):
 *
 *   outbound:  Init --(our first frame carries SYN)--> SynSent --(peer's ACK)--> Established
 *   inbound:   SynReceived --(our first frame carries ACK)--> Established
 *
 * We may send data in SynSent (0-RTT: never wait for the ACK; rust-yamux acknowledges lazily).
 *
 * Closing, independently per direction (go-yamux `halfStreamState`):
 *
 *   write (ours):   Open --send FIN--> Closed        any --send/recv RST--> Reset
 *   read (peer's):  Open --recv FIN--> Closed        any --send/recv RST--> Reset
 *
 * The stream is finished once neither direction is Open; from then on no frame may be sent for it
 * (js-libp2p#2505, js-libp2p-yamux#91: older nim kills the connection on a frame for an unknown stream).
 *
 * Illegal local transitions (sending after FIN or RST, a second FIN) throw: they are bugs in the
 * caller, not peer behaviour. Odd peer behaviour (a second FIN, an ACK on an inbound stream) is
 * ignored as go and rust do.
 */
import { StreamClosedError, StreamResetError } from '../errors.js'
import { Flag } from './constants.js'

export enum OpenState { Init, SynSent, SynReceived, Established }
export enum HalfState { Open, Closed, Reset }

/** What `onRemoteFlags` changed (a bitmask). */
export const RemoteEvent = {
  None: 0,
  /** The peer acknowledged our SYN. */
  Acked: 1,
  /** The peer half-closed (FIN): no more data will come. */
  Fin: 2,
  /** The peer reset the stream. */
  Reset: 4
} as const

export class StreamState {
  open: OpenState
  write = HalfState.Open
  read = HalfState.Open

  private constructor (open: OpenState) {
    this.open = open
  }

  /** A stream we open; our first frame will carry SYN. */
  static outbound (): StreamState { return new StreamState(OpenState.Init) }
  /** A stream the peer opened with SYN; our first frame will carry ACK. */
  static inbound (): StreamState { return new StreamState(OpenState.SynReceived) }

  /** Neither direction is open: the stream is gone from the wire. */
  get finished (): boolean { return this.write !== HalfState.Open && this.read !== HalfState.Open }
  get isReset (): boolean { return this.write === HalfState.Reset || this.read === HalfState.Reset }
  /** Data frames are allowed (our direction open). */
  get maySendData (): boolean { return this.write === HalfState.Open }
  /** A WindowUpdate is useful and allowed: the peer may still send data. */
  get mayGrantCredit (): boolean { return this.read === HalfState.Open && this.write !== HalfState.Reset }

  /**
   * Flags for the next frame we send on this stream: SYN on the first frame of an outbound stream,
   * ACK on the first frame of an inbound one, none afterwards.
   */
  takeOpenFlags (): number {
    switch (this.open) {
      case OpenState.Init: this.open = OpenState.SynSent; return Flag.SYN
      case OpenState.SynReceived: this.open = OpenState.Established; return Flag.ACK
      default: return 0
    }
  }

  /** Before sending Data. */
  assertMaySendData (id: number): void {
    if (this.write === HalfState.Open) return
    throw this.write === HalfState.Reset
      ? new StreamResetError(`stream ${id}: data after reset`)
      : new StreamClosedError(`stream ${id}: data after FIN`)
  }

  /** We send FIN. Returns the flags for that frame (FIN plus SYN/ACK if it is our first frame). */
  sendFin (id: number): number {
    this.assertMaySendData(id)
    this.write = HalfState.Closed
    return this.takeOpenFlags() | Flag.FIN
  }

  /** We send RST (only while not finished: an RST for a finished stream is a frame for an unknown id). */
  sendReset (id: number): number {
    if (this.finished) throw new StreamClosedError(`stream ${id}: RST after the stream finished`)
    this.write = HalfState.Reset
    this.read = HalfState.Reset
    // A stream the peer opened and we never accepted (no ACK sent) is refused with a bare RST (yamux
    // spec: "RST ... to reject a new stream"; go-yamux `incomingStream`), never ACK then RST.
    if (this.open === OpenState.SynReceived) { this.open = OpenState.Established; return Flag.RST }
    return this.takeOpenFlags() | Flag.RST
  }

  /**
   * Apply the SYN/ACK/FIN/RST flags of a frame from the peer (Data or WindowUpdate alike: rust-yamux#189,
   * py-libp2p#1014).
   * Returns the `RemoteEvent` bits that changed something.
   */
  onRemoteFlags (flags: number): number {
    let events: number = RemoteEvent.None
    if ((flags & Flag.ACK) !== 0 && this.open === OpenState.SynSent) {
      this.open = OpenState.Established
      events |= RemoteEvent.Acked
    }
    if ((flags & Flag.FIN) !== 0 && this.read === HalfState.Open) {
      this.read = HalfState.Closed
      events |= RemoteEvent.Fin
    }
    if ((flags & Flag.RST) !== 0 && !this.isReset && !this.finished) {
      this.read = HalfState.Reset
      this.write = HalfState.Reset
      events |= RemoteEvent.Reset
    }
    return events
  }
}
