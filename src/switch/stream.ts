/**
 * The stream applications get from the switch: the muxer's stream (after multistream-select) plus
 * who is on the other end. Every call is forwarded as is; nothing is buffered or copied here.
 *
 * Reading after the remote closed: `read()` resolves `null`, `readExactly`/`readLp` reject with
 * EndOfStreamError (nim's `LPStreamEOFError`). The full close/reset matrix is documented on
 * `MuxedStream` (src/muxer/stream.ts).
 */
import type { Stream } from '../connection.js'
import type { PeerId } from '../security/peer-id.js'
import type { PeerConnection } from './peer-connection.js'

export class SwitchStream implements Stream {
  /** The muxer's stream (after the multistream-select wrapper, when the negotiation was lazy). */
  readonly inner: Stream
  /** The connection this stream belongs to. */
  readonly connection: PeerConnection

  constructor (inner: Stream, connection: PeerConnection) {
    this.inner = inner
    this.connection = connection
  }

  get id (): number { return this.inner.id }
  get direction (): 'inbound' | 'outbound' { return this.inner.direction }
  /** The negotiated protocol id. */
  get protocol (): string { return this.inner.protocol }
  set protocol (p: string) { this.inner.protocol = p }
  /** The authenticated peer at the other end (checked by Noise). */
  get remotePeer (): PeerId { return this.connection.remotePeer }

  read (): Promise<Uint8Array | null> { return this.inner.read() }
  readExactly (n: number): Promise<Uint8Array> { return this.inner.readExactly(n) }
  readLp (maxSize: number): Promise<Uint8Array> { return this.inner.readLp(maxSize) }
  unread (chunk: Uint8Array): void { this.inner.unread(chunk) }
  write (data: Uint8Array): Promise<void> { return this.inner.write(data) }
  writeLp (data: Uint8Array | string): Promise<void> { return this.inner.writeLp(data) }
  closeWrite (): Promise<void> { return this.inner.closeWrite() }
  close (): Promise<void> { return this.inner.close() }
  reset (err?: Error): void { this.inner.reset(err) }
  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> { return this.inner[Symbol.asyncIterator]() }

  toString (): string {
    return `stream ${this.id} (${this.direction} ${
      this.protocol === '' ? '<negotiating>' : this.protocol
    }) with ${this.remotePeer.toString()}`
  }
}
