/**
 * yamux flow control (spec §Flow Control) as pure arithmetic: no sockets, no timers, the clock and
 * the RTT are parameters. One `ReceiveWindow` and one `SendWindow` per stream, one `WindowBudget`
 * per connection.
 *
 * Receive side, per stream (credit is granted on application READ, not on receipt; as go-yamux and rust-yamux do):
 *
 *     |<------------------------------ window ------------------------------->|
 *     |<-- buffered (received, unread) -->|<-- credit (peer may still send) -->|<-- grantable -->|
 *                                         ^ peer's view of our window ends here
 *
 *   invariant: buffered + credit <= window. The peer never has more than `window` bytes in flight or
 *   sitting in our buffer, however slowly the application reads.
 *   - a Data frame of n bytes is legal iff n <= credit (checked when its header arrives);
 *   - the application reading n bytes moves them out of `buffered`;
 *   - `nextUpdate` grants `window - buffered - credit` once that is at least half the window
 *     (rust-yamux#109, go-yamux `GrowTo`): one WindowUpdate per half window, not one per frame.
 *
 * Auto-tuning (go-yamux/rust-yamux): a sender limited by the window delivers about one window per
 * RTT, so half a window is consumed every RTT/2…RTT, and an update comes ~1.25 RTT after the previous
 * one. When the half window since the previous update was consumed within WINDOW_GROWTH_RTTS (4)
 * RTT, the window, not the link, is the bottleneck: grow it WINDOW_GROWTH_FACTOR (4) times over, up
 * to `maxWindow` and within the connection's `WindowBudget` and memory account (the RTT comes from
 * yamux pings; the first update, with nothing to compare, never grows). go and rust double within 2 RTT
 * (rust's test); a sender in TCP slow start doubles its rate every RTT while a test skipped for a
 * few milliseconds past 2 RTT costs a round trip, so doubling lagged TCP by two round trips at 50 ms
 * (constants.ts). Growth stops once a half window lasts longer than 4 RTT, near 8x the
 * bandwidth-delay product, always within `maxWindow` and the budgets.
 *
 * Memory accounting (src/resources): besides the connection's `WindowBudget` (a cap on the sum of
 * windows, for auto-tuning), each stream charges a `MemoryAccount` (its connection's resource scope,
 * which rolls up into the peer's and the process's):
 *
 *     charged = max(buffered, window > 256 KiB ? window : 0)
 *
 * A stream at the spec's initial window charges only the bytes it really holds, so 1000 idle
 * streams cost nothing; a window grown beyond 256 KiB is a promise we made, so it is charged whole
 * before the update that announces it (go-yamux `sendWindowUpdate` reserves growth the same way).
 * A Data frame that would push `charged` past what the account grants is refused (`admit` false):
 * the session resets that stream instead of buffering, so what one peer makes us hold is bounded
 * by its scopes whatever it does.
 */
import type { ResourceLimitError } from '../errors.js'
import type { MemoryAccount } from '../resources/scope.js'
import {
  INITIAL_SEND_WINDOW,
  INITIAL_STREAM_WINDOW,
  MAX_UINT32,
  WINDOW_GROWTH_FACTOR,
  WINDOW_GROWTH_RTTS
} from './constants.js'

/** Connection-wide cap on the sum of receive windows (`maxBufferedBytesPerConnection`). */
export class WindowBudget {
  readonly limit: number
  private used = 0

  constructor (limit: number) {
    this.limit = limit
  }

  /** Sum of the receive windows of the live streams. */
  get reserved (): number { return this.used }

  /**
   * Reserve `n` bytes unconditionally (a new stream's initial window: the spec lets the peer send
   * 256 KiB before any update, so there is nothing to negotiate).
   */
  reserveInitial (n: number): void { this.used += n }

  /** Reserve up to `n` bytes of growth; returns what was granted (0 … n). */
  tryGrow (n: number): number {
    const g = Math.max(0, Math.min(n, this.limit - this.used))
    this.used += g
    return g
  }

  release (n: number): void {
    this.used -= n
    if (this.used < 0) throw new Error(`WindowBudget invariant: released ${n} bytes more than reserved`)
  }
}

export interface ReceiveWindowInit {
  /** The window we want at open time (>= 256 KiB); the SYN/ACK frame carries the difference. */
  initialWindow: number
  /** Auto-tuning ceiling (`maxStreamWindowBytes`). */
  maxWindow: number
  budget: WindowBudget
  /** Memory account charged for buffered bytes and grown windows; absent = not accounted. */
  account?: MemoryAccount
}

export class ReceiveWindow {
  /** Target window: at most this many bytes are buffered plus in flight. */
  window: number
  /** Bytes the peer may still send, as far as it knows. Starts at the spec's implicit 256 KiB. */
  credit = INITIAL_STREAM_WINDOW
  /** Bytes received and not yet read by the application. */
  buffered = 0
  readonly maxWindow: number
  /** Bytes charged to the memory account (see the module comment). */
  charged = 0
  /** Why the last `admit`/`open` was refused. */
  refusal: ResourceLimitError | undefined
  private readonly budget: WindowBudget
  private readonly account: MemoryAccount | undefined
  /** When the last update was sent (ms, caller's clock); undefined before the first one. */
  private lastUpdateAt: number | undefined
  private released = false

  constructor (init: ReceiveWindowInit) {
    this.window = init.initialWindow
    this.maxWindow = init.maxWindow
    this.budget = init.budget
    this.account = init.account
    this.budget.reserveInitial(this.window)
  }

  /** What the window promises beyond the spec's unasked 256 KiB (charged up front). */
  private get promised (): number { return this.window > INITIAL_STREAM_WINDOW ? this.window : 0 }

  /** Charge `target` bytes in all (up only); false when the account refuses (see `refusal`). */
  private chargeTo (target: number): boolean {
    if (target <= this.charged || this.account === undefined) return true
    const refused = this.account.reserveMemory(target - this.charged)
    if (refused !== undefined) { this.refusal = refused; return false }
    this.charged = target
    return true
  }

  /** Give back what is charged beyond what is held or promised now. */
  private settle (): void {
    const target = Math.max(this.buffered, this.promised)
    if (this.account !== undefined && this.charged > target) {
      this.account.releaseMemory(this.charged - target)
      this.charged = target
    }
  }

  /**
   * Reserve what a configured initial window above 256 KiB promises; false = refuse the stream.
   * Call once, right after construction.
   */
  open (): boolean { return this.chargeTo(this.promised) }

  /**
   * A Data frame of `n` bytes (already known to `fits`) is about to be buffered: charge it. False
   * when the memory account refuses; the caller then resets the stream and drops the payload.
   */
  admit (n: number): boolean { return this.chargeTo(Math.max(this.buffered + n, this.promised)) }

  /** The delta to put on our SYN or ACK frame: what our initial window adds to the implicit 256 KiB. */
  openingDelta (now: number): number {
    const delta = this.window - this.credit - this.buffered
    if (delta <= 0) return 0
    this.credit += delta
    this.lastUpdateAt = now
    return delta
  }

  /** May the peer send a Data frame of `n` bytes? (spec §Flow Control; false = protocol error) */
  fits (n: number): boolean { return n <= this.credit }

  /** A Data payload of `n` bytes was accepted (after `fits`). */
  onReceived (n: number): void {
    this.credit -= n
    this.buffered += n
  }

  /** The application read (or discarded) `n` buffered bytes. */
  onConsumed (n: number): void {
    this.buffered -= n
    if (this.buffered < 0) this.buffered = 0
    if (this.charged > this.promised) this.settle()
  }

  /**
   * The WindowUpdate delta to send now, or 0. `rttMs` is 0 while unknown (no auto-tuning then).
   * Sends nothing until at least half the window can be granted.
   */
  nextUpdate (now: number, rttMs: number): number {
    let grant = this.window - this.buffered - this.credit
    if (grant < this.window / 2) return 0
    if (
      rttMs > 0 && this.lastUpdateAt !== undefined && now - this.lastUpdateAt < WINDOW_GROWTH_RTTS * rttMs &&
      this.window < this.maxWindow
    ) {
      let want = Math.min(this.window * (WINDOW_GROWTH_FACTOR - 1), this.maxWindow - this.window)
      if (this.account !== undefined) {
        // The grown window is charged whole; grow only as far as the account can pay for.
        const extra = Math.max(0, this.window + want - this.charged)
        const avail = this.account.availableMemory()
        if (extra > avail) want -= extra - avail
      }
      const grow = want > 0 ? this.budget.tryGrow(want) : 0
      if (grow > 0 && this.chargeTo(Math.max(this.buffered, this.window + grow))) {
        this.window += grow
        grant += grow
      } else if (grow > 0) {
        this.budget.release(grow)
      }
    }
    this.lastUpdateAt = now
    if (grant > MAX_UINT32) grant = MAX_UINT32
    this.credit += grant
    return grant
  }

  /** The stream is gone: give its window back to the connection budget (idempotent). */
  release (): void {
    if (this.released) return
    this.released = true
    this.budget.release(this.window)
    if (this.account !== undefined && this.charged > 0) this.account.releaseMemory(this.charged)
    this.charged = 0
  }

  /** Throws if the arithmetic above was ever violated (used by tests after every step). */
  assertInvariants (): void {
    const chargedOk = this.account === undefined || this.released ||
      (this.charged >= this.buffered && this.charged >= this.promised)
    if (
      this.credit < 0 || this.buffered < 0 || this.credit + this.buffered > this.window ||
      this.window > Math.max(this.maxWindow, INITIAL_STREAM_WINDOW) || !chargedOk
    ) {
      throw new Error(
        `ReceiveWindow invariant broken: window=${this.window} credit=${this.credit} buffered=${this.buffered} max=${this.maxWindow} charged=${this.charged}`
      )
    }
  }
}

/**
 * Send side, per stream: how many Data payload bytes the peer still accepts. Starts at 256000, not
 * 262144 (see INITIAL_SEND_WINDOW), and every WindowUpdate adds its delta (deltas, never absolute:
 * rust-yamux#90/#92).
 */
export class SendWindow {
  credit: number = INITIAL_SEND_WINDOW

  /** Add a WindowUpdate delta. Capped at 2^32-1 so a hostile peer cannot overflow the arithmetic. */
  grow (delta: number): void {
    this.credit = Math.min(this.credit + delta, MAX_UINT32)
  }

  /** Take up to `n` bytes of credit; returns what was taken. */
  take (n: number): number {
    const t = n < this.credit ? n : this.credit
    this.credit -= t
    return t
  }
}
