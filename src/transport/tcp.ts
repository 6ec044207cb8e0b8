/**
 * TCP transport over `node:net`: `listen` and `dial` give `TcpConnection`s, the raw
 * `ByteConnection` every upper layer is built on. Nothing here knows any protocol.
 *
 * Read side (push, with backpressure):
 *   socket 'data' ─► attached sink.onData (synchronously, the chunk is the sink's to keep)
 *                 └► no sink attached: keep the chunk in `pending` and pause the socket.
 *   `pause()`/`detach()` stop the socket (readStop): the kernel receive buffer fills and TCP flow
 *   control slows the sender. At most one socket read (plus Node's readable high-water mark) is
 *   ever held in user space, however slow the consumer is.
 *
 * Write side (batched): `write(chunks)` sends the batch as one writev (cork … uncork), returns false
 * once `writableLength` reaches the high-water mark, and the sink's `onDrain` says when to go on.
 * Nagle is off (`setNoDelay(true)`): the muxers batch their own frames.
 *
 * Close matrix:
 *   closeWrite()  FIN after the queued bytes (allowHalfOpen: we keep reading)
 *   close()       FIN, keep reading (and discarding) until the peer's FIN, then release;
 *                 `closeTimeoutMs` bounds the wait (then destroy)
 *   abort(err)    RST (`resetAndDestroy`) at once; destroy() if a FIN was already started
 *                 (libuv cannot mix uv_shutdown and uv_tcp_close_reset)
 *   peer FIN      sink.onEnd(); peer RST → sink.onClose(TransportError ERR_CONNECTION_RESET)
 *
 * Borrowed reads: once a sink with `borrowsChunks` attaches (the Noise channel, which deciphers each
 * chunk as it arrives), the socket reads into one 64 KiB buffer shared by every such connection of the
 * process and hands the sink views of it: no 64 KiB allocation (and its share of garbage collection)
 * per read. Reads and their callbacks run one at a time on the event loop, so one buffer is enough.
 * Connections no borrowing sink ever attached to (handshakes, TLS, WebSocket) read as before, a fresh
 * buffer per read; a non-borrowing sink attached after the switch gets a copy of each read.
 *
 * Socket errors never escape as events or rejections: each becomes a typed TransportError handed
 * to the sink's onClose (exactly once).
 */
import {
  connect,
  createServer,
  isIP,
  isIPv4,
  Socket,
  type AddressInfo,
  type NetConnectOpts,
  type OnReadOpts,
  type Server,
  type SocketConstructorOpts
} from 'node:net'
import { networkInterfaces } from 'node:os'
import type { ByteConnection, ByteSink } from '../connection.js'
import { MultiaddrError, StreamClosedError, TransportError, type ErrorCode, toError } from '../errors.js'
import type { TraceObserver } from '../trace/observer.js'
import { CODE_IP4, CODE_IP6, CODE_P2P, Multiaddr } from './multiaddr.js'

/** Default bound on connection establishment. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000
/** Default bound on a graceful `close()` waiting for the peer's FIN. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000
/** Default write-buffer high-water mark (`write` returns false at or above it). */
export const DEFAULT_HIGH_WATER_MARK_BYTES = 64 * 1024

/** The read buffer shared by every connection reading in borrowed mode (see the module comment). */
const READ_BUFFER_BYTES = 64 * 1024
let sharedReadBuffer: Buffer | undefined

/** The properties Node's `onread` socket option sets (its symbols are not exported). */
interface OnreadKeys { buffer: symbol, callback: symbol, generator: symbol }
let onreadKeys: OnreadKeys | null | undefined

type SymbolRecord = Record<symbol, unknown>

/**
 * Node's `onread: { buffer, callback }` socket option (Node docs, net: "incoming data is stored in a
 * single `buffer` and passed to the supplied `callback`"; nodejs/node#25436) exists only at
 * construction, and `net.Server` builds accepted sockets itself. To turn it on for an existing socket
 * we set what the option sets: the three properties found here on probe sockets built with the
 * option, and the handle's `useUserBuffer`. Null when this Node lays them out otherwise: then every
 * read stays a fresh buffer, as without borrowing.
 */
function findOnreadKeys (): OnreadKeys | null {
  const buffer = Buffer.alloc(1)
  const callback = (): boolean => true
  const generator = (): Uint8Array => buffer
  const keyOf = (socket: Socket, value: unknown): symbol | undefined => {
    const found = Object.getOwnPropertySymbols(socket).find(k => (socket as unknown as SymbolRecord)[k] === value)
    socket.destroy()
    return found
  }
  // @types/node lists `onread` for net.connect only; the Socket constructor takes it too.
  const probe = (onread: OnReadOpts): Socket => new Socket({ onread } as SocketConstructorOpts)
  const keys = {
    buffer: keyOf(probe({ buffer, callback }), buffer),
    callback: keyOf(probe({ buffer, callback }), callback),
    generator: keyOf(probe({ buffer: generator, callback }), generator)
  }
  if (keys.buffer === undefined || keys.callback === undefined || keys.generator === undefined) return null
  return keys as OnreadKeys
}

/** Switch `socket` to reading into the shared buffer, calling `callback(nread, buffer)`; false if unsupported. */
function useSharedReadBuffer (socket: Socket, callback: (nread: number, buffer: Buffer) => void): boolean {
  if (onreadKeys === undefined) onreadKeys = findOnreadKeys()
  const keys = onreadKeys
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle
  if (keys === null || typeof handle?.useUserBuffer !== 'function') return false
  sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  const props = socket as unknown as SymbolRecord
  props[keys.buffer] = sharedReadBuffer
  props[keys.callback] = callback
  props[keys.generator] = null
  handle.useUserBuffer(sharedReadBuffer)
  return true
}

/** Options shared by dialed and accepted connections. */
export interface TcpConnectionOptions {
  /**
   * Write buffer size in bytes at which `write` returns false (default 64 KiB). Also Node's
   * readable high-water mark: the most a paused connection holds in user space.
   */
  highWaterMarkBytes?: number
  /** Bound on a graceful `close()` (default 5000 ms); then the socket is destroyed. */
  closeTimeoutMs?: number
  /**
   * Trace hook (src/trace/observer.ts): tcp open / data / end / close events. Absent by default,
   * and then each hook point costs one `undefined` check. `setObserver` attaches one later.
   */
  observer?: TraceObserver
}

export interface TcpDialOptions extends TcpConnectionOptions {
  signal?: AbortSignal
  /** Bound on connection establishment (default 10 000 ms). */
  timeoutMs?: number
  /**
   * The local IP address the socket binds to before it connects (node:net `localAddress`); absent,
   * the kernel picks one. Of the dialed address's family (a `/dns` name is resolved in it). On Linux
   * all of 127.0.0.0/8 is loopback, so dials bound to 127.0.x.y reach a 127.0.0.1 listener from
   * distinct source addresses (`npm run soak`: 1000 peers, as many hosts).
   */
  localAddress?: string
}

export interface TcpListenOptions extends TcpConnectionOptions {
  /** Called for every accepted connection. Reading starts when a sink is attached. */
  onConnection: (conn: TcpConnection) => void
  /** Listen backlog (kernel accept queue length); Node's default when absent. */
  backlog?: number
  /** Errors after the listener started (the server socket itself, or a throwing onConnection). */
  onError?: (err: Error) => void
}

export interface TcpListener {
  /**
   * The addresses the listener is reachable at, with the real port. A wildcard bind reports every
   * local interface of that family (0.0.0.0: IPv4; `::`: IPv6 without link-local addresses, which
   * need a zone to be dialed).
   */
  readonly multiaddrs: readonly Multiaddr[]
  /** Connections accepted and not yet closed. */
  readonly connections: ReadonlySet<TcpConnection>
  /**
   * Stop accepting. Open connections are left to finish unless `closeConnections` is set, in which
   * case each is closed gracefully (`close()`), and the promise waits for them.
   */
  close: (options?: { closeConnections?: boolean }) => Promise<void>
}

function positive (value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback
  if (!(v > 0)) throw new RangeError(`"${what}" expected a positive number, got ${v}`)
  return v
}

/** The family (4 or 6) of a dial's `localAddress`, checked before any socket exists. */
export function localAddressFamily (localAddress: string): 4 | 6 {
  const family = isIP(localAddress)
  if (family === 0) {
    throw new TypeError(`"localAddress" expected an IPv4 or IPv6 address, got ${JSON.stringify(localAddress)}`)
  }
  return family as 4 | 6
}

/** Node socket error → TransportError with a stable code. */
function transportError (err: Error & { code?: string }, what: string): TransportError {
  let code: ErrorCode
  switch (err.code) {
    case 'ECONNREFUSED': code = 'ERR_CONNECTION_REFUSED'; break
    case 'ECONNRESET':
    case 'EPIPE': code = 'ERR_CONNECTION_RESET'; break
    case 'ETIMEDOUT': code = 'ERR_DIAL_TIMEOUT'; break
    default: code = 'ERR_SOCKET'
  }
  // A RST is the peer's doing (go-libp2p closes connections with unread bytes, which the kernel
  // turns into one): say so, rather than only the errno.
  if (err.code === 'ECONNRESET') {
    return new TransportError(code, `${what}: peer reset the TCP connection (RST, ECONNRESET)`, { cause: err })
  }
  return new TransportError(code, `${what}: ${err.code ?? 'error'} (${err.message})`, { cause: err })
}

/** A socket address as a multiaddr; IPv4-mapped IPv6 (dual-stack listeners) is reported as /ip4. */
function socketMultiaddr (address: string | undefined, port: number | undefined): Multiaddr {
  if (address === undefined || port === undefined) return Multiaddr.parse('/')
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) address = address.slice(7)
  return Multiaddr.fromNodeAddress(address, port)
}

/** Only `/ip4|ip6|dns*\/<host>/tcp/<port>` with an optional final `/p2p/<id>` is a TCP address. */
function assertTcpAddress (ma: Multiaddr): void {
  ma.toNodeAddress() // throws for a non-TCP front
  const rest = ma.components.slice(ma.components[0]?.name === 'ip6zone' ? 3 : 2)
  if (rest.length > 1 || (rest.length === 1 && rest[0]?.code !== CODE_P2P)) {
    throw new MultiaddrError(
      `multiaddr ${ma.toString()} is not a plain TCP address: unexpected "/${
        rest.map(c => c.name).join('/')
      }" after /tcp`
    )
  }
}

/** One TCP connection as a ByteConnection. Build with `dial` or receive from `listen`. */
export class TcpConnection implements ByteConnection {
  readonly remoteAddr: string
  readonly localAddr: string
  readonly remoteMultiaddr: Multiaddr
  readonly localMultiaddr: Multiaddr
  readonly direction: 'inbound' | 'outbound'

  private readonly socket: Socket
  private observer: TraceObserver | undefined
  private readonly highWaterMark: number
  private readonly closeTimeoutMs: number
  private sink: ByteSink | undefined
  /** Chunks that arrived while no sink was attached (the socket is paused then). */
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private userPaused = false
  private writeEnded = false
  /** Graceful close in progress: data with no sink is dropped rather than buffered. */
  private closing = false
  private remoteEnded = false
  private endDelivered = false
  private isClosed = false
  private closeDelivered = false
  private error: Error | undefined
  private closePromise: Promise<void> | undefined
  /** Reading into the shared buffer (a borrowing sink attached once; see the module comment). */
  private borrowedReads = false

  /** @internal use `dial` or `listen`. */
  constructor (socket: Socket, direction: 'inbound' | 'outbound', options: TcpConnectionOptions = {}) {
    this.socket = socket
    this.direction = direction
    this.observer = options.observer
    // The socket's own mark (set from highWaterMarkBytes by dial/listen): Node emits 'drain' only
    // after a write crossed *its* mark, so ours must be the same number or onDrain could never come.
    this.highWaterMark = socket.writableHighWaterMark
    this.closeTimeoutMs = positive(options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, 'closeTimeoutMs')
    this.remoteMultiaddr = socketMultiaddr(socket.remoteAddress, socket.remotePort)
    this.localMultiaddr = socketMultiaddr(socket.localAddress, socket.localPort)
    this.remoteAddr = this.remoteMultiaddr.toString()
    this.localAddr = this.localMultiaddr.toString()

    socket.setNoDelay(true)
    // Paused until a sink is attached; set before adding 'data' so the listener does not start flowing.
    socket.pause()
    socket.on('data', this.onSocketData)
    socket.on('end', this.onSocketEnd)
    socket.on('error', this.onSocketError)
    socket.on('close', this.onSocketClose)
    socket.on('drain', this.onSocketDrain)
    if (options.observer !== undefined) this.setObserver(options.observer)
  }

  /** Attach (or replace, or remove) the trace observer; reports `open` to a new one. */
  setObserver (observer: TraceObserver | undefined): void {
    this.observer = observer
    if (observer !== undefined && !this.isClosed) {
      observer.event({
        layer: 'tcp',
        kind: 'open',
        localAddr: this.localAddr,
        remoteAddr: this.remoteAddr,
        direction: this.direction
      })
    }
  }

  get closed (): boolean { return this.isClosed }

  /** Bytes handed to `write` and not yet passed to the kernel. */
  get writableLength (): number { return this.socket.writableLength }

  /** Bytes received and held in user space (Node's readable buffer plus chunks awaiting a sink). */
  get readableLength (): number { return this.socket.readableLength + this.pendingBytes }

  attach (sink: ByteSink): void {
    this.sink = sink
    if (sink.borrowsChunks === true && !this.borrowedReads && !this.socket.destroyed) {
      this.borrowedReads = useSharedReadBuffer(this.socket, this.onBorrowedRead)
    }
    // Deliver what arrived while detached, in order; stop if the sink detaches or is replaced meanwhile.
    while (this.pending.length > 0) {
      if (this.sink !== sink) return
      const chunk = this.pending.shift() as Uint8Array
      this.pendingBytes -= chunk.length
      sink.onData(chunk)
    }
    if (this.sink !== sink) return
    if (this.remoteEnded && !this.endDelivered) { this.endDelivered = true; sink.onEnd() }
    if (this.sink !== sink) return
    if (this.isClosed) { this.deliverClose(); return }
    if (!this.userPaused) this.socket.resume()
  }

  detach (): void {
    this.sink = undefined
    if (!this.closing) this.socket.pause()
  }

  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded || this.isClosed || this.socket.destroyed) {
      throw new StreamClosedError(`write on ${this.remoteAddr} after ${this.writeEnded ? 'closeWrite' : 'close'}`)
    }
    const socket = this.socket
    const obs = this.observer
    if (chunks.length === 1) {
      const c = chunks[0] as Uint8Array
      if (c.length > 0) {
        socket.write(c)
        if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'data', dir: 'out', length: c.length, bytes: c })
      }
    } else {
      // One writev for the whole batch (ws lib/sender.js cork/uncork; js-libp2p#1491 measured small writes).
      socket.cork()
      for (const c of chunks) {
        if (c.length === 0) continue
        socket.write(c)
        if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'data', dir: 'out', length: c.length, bytes: c })
      }
      socket.uncork()
    }
    return socket.writableLength < this.highWaterMark
  }

  pause (): void {
    this.userPaused = true
    this.socket.pause()
  }

  resume (): void {
    this.userPaused = false
    if (this.sink !== undefined) this.socket.resume()
  }

  closeWrite (): void {
    if (this.writeEnded || this.isClosed) return
    this.writeEnded = true
    this.socket.end()
    const obs = this.observer
    if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'end', dir: 'out' })
  }

  close (): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise
    this.closePromise = new Promise<void>(resolve => {
      if (this.isClosed) { resolve(); return }
      this.socket.once('close', () => resolve())
      this.closing = true
      this.closeWrite()
      // Read on to the peer's FIN (allowHalfOpen then destroys the socket), bounded by the timeout.
      this.userPaused = false
      this.socket.resume()
      const timer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs)
      timer.unref()
      this.socket.once('close', () => clearTimeout(timer))
    })
    return this.closePromise
  }

  abort (err?: Error): void {
    if (this.isClosed || this.socket.destroyed) return
    this.error ??= err ?? new TransportError('ERR_ABORTED', `connection ${this.remoteAddr} aborted locally`)
    if (this.socket.writableEnded || this.socket.connecting) this.socket.destroy()
    else this.socket.resetAndDestroy()
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    const obs = this.observer
    if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'data', dir: 'in', length: chunk.length, bytes: chunk })
    // After close() we read only to see the peer's FIN: the data is discarded (like Stream.close).
    if (this.closing) return
    const sink = this.sink
    if (sink !== undefined) { sink.onData(chunk); return }
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    this.socket.pause()
  }

  /** A read into the shared buffer: only a borrowing sink may see the buffer itself. */
  private readonly onBorrowedRead = (nread: number, buffer: Buffer): void => {
    const view = buffer.subarray(0, nread)
    const obs = this.observer
    if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'data', dir: 'in', length: nread, bytes: Buffer.from(view) })
    if (this.closing) return
    const sink = this.sink
    if (sink !== undefined) { sink.onData(sink.borrowsChunks === true ? view : Buffer.from(view)); return }
    const chunk = Buffer.from(view)
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    this.socket.pause()
  }

  private readonly onSocketEnd = (): void => {
    this.remoteEnded = true
    const obs = this.observer
    if (obs !== undefined) obs.event({ layer: 'tcp', kind: 'end', dir: 'in' })
    if (this.sink !== undefined && this.pending.length === 0 && !this.endDelivered) {
      this.endDelivered = true
      this.sink.onEnd()
    }
  }

  private readonly onSocketError = (err: Error): void => {
    this.error ??= transportError(err, `tcp connection ${this.remoteAddr}`)
  }

  private readonly onSocketClose = (): void => {
    this.isClosed = true
    const obs = this.observer
    if (obs !== undefined) {
      obs.event(
        this.error === undefined
          ? { layer: 'tcp', kind: 'close' }
          : { layer: 'tcp', kind: 'close', error: this.error.message }
      )
    }
    if (this.sink !== undefined && this.pending.length === 0) this.deliverClose()
  }

  private readonly onSocketDrain = (): void => {
    this.sink?.onDrain?.()
  }

  private deliverClose (): void {
    if (this.closeDelivered) return
    this.closeDelivered = true
    this.sink?.onClose(this.error)
  }
}

/**
 * Open a TCP connection to `addr` (`/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/p2p/<id>]`).
 * Rejects with TransportError: ERR_CONNECTION_REFUSED, ERR_DIAL_TIMEOUT, ERR_ABORTED, ERR_SOCKET.
 */
export async function dial (addr: Multiaddr | string, options: TcpDialOptions = {}): Promise<TcpConnection> {
  const ma = Multiaddr.from(addr)
  assertTcpAddress(ma)
  const { host, port, family: addrFamily } = ma.toNodeAddress()
  const localAddress = options.localAddress
  const localFamily = localAddress === undefined ? undefined : localAddressFamily(localAddress)
  if (localFamily !== undefined && addrFamily !== 0 && addrFamily !== localFamily) {
    throw new TransportError(
      'ERR_SOCKET',
      `dial to ${ma.toString()} expected a local address of IPv${addrFamily}, got ${localAddress ?? ''}`
    )
  }
  // A /dns name resolves in the local address's family: the socket can connect to no other.
  const family = localFamily ?? addrFamily
  const timeoutMs = positive(options.timeoutMs, DEFAULT_DIAL_TIMEOUT_MS, 'timeoutMs')
  const highWaterMark = positive(options.highWaterMarkBytes, DEFAULT_HIGH_WATER_MARK_BYTES, 'highWaterMarkBytes')
  const signal = options.signal
  const where = `dial to ${ma.toString()}`
  if (signal?.aborted === true) throw new TransportError('ERR_ABORTED', `${where} aborted`, { cause: signal.reason })

  return await new Promise<TcpConnection>((resolve, reject) => {
    // `highWaterMark` is passed on to the Duplex constructor (not in @types/node's NetConnectOpts).
    const connectOptions: NetConnectOpts & { highWaterMark: number } = {
      host,
      port,
      family,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark,
      ...(localAddress === undefined ? {} : { localAddress })
    }
    const socket = connect(connectOptions)
    let done = false
    const finish = (err: Error | undefined): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('connect', onConnect)
      socket.off('error', onError)
      if (err !== undefined) {
        // Keep an error listener: destroy() may still emit, and an unhandled 'error' crashes the process.
        socket.on('error', () => {})
        socket.destroy()
        reject(err)
        return
      }
      try {
        resolve(new TcpConnection(socket, 'outbound', options))
      } catch (e) {
        socket.destroy()
        reject(e)
      }
    }
    const onConnect = (): void => finish(undefined)
    const onError = (err: Error): void => finish(transportError(err, where))
    const onAbort = (): void => finish(new TransportError('ERR_ABORTED', `${where} aborted`, { cause: signal?.reason }))
    const timer = setTimeout(
      () =>
        finish(
          new TransportError('ERR_DIAL_TIMEOUT', `${where} expected to connect within ${timeoutMs} ms, it did not`)
        ),
      timeoutMs
    )
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Listen on `addr` (`/ip4|ip6/<host>/tcp/<port>`; port 0 picks a free port). */
export async function listen (addr: Multiaddr | string, options: TcpListenOptions): Promise<TcpListener> {
  const ma = Multiaddr.from(addr)
  assertTcpAddress(ma)
  const first = ma.components[0]
  if (first?.code !== CODE_IP4 && first?.code !== CODE_IP6) {
    throw new MultiaddrError(`cannot listen on ${ma.toString()}: expected an /ip4 or /ip6 address`)
  }
  const { host, port } = ma.toNodeAddress()
  const highWaterMark = positive(options.highWaterMarkBytes, DEFAULT_HIGH_WATER_MARK_BYTES, 'highWaterMarkBytes')
  const connections = new Set<TcpConnection>()
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark })

  server.on('connection', (socket: Socket) => {
    if (socket.remoteAddress === undefined) { socket.on('error', () => {}); socket.destroy(); return } // already gone
    let conn: TcpConnection
    try {
      conn = new TcpConnection(socket, 'inbound', options)
    } catch (err) {
      socket.on('error', () => {})
      socket.destroy()
      options.onError?.(toError(err))
      return
    }
    connections.add(conn)
    socket.once('close', () => connections.delete(conn))
    try {
      options.onConnection(conn)
    } catch (err) {
      conn.abort(toError(err))
      options.onError?.(toError(err))
    }
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(transportError(err, `listen on ${ma.toString()}`))
    server.once('error', onError)
    server.listen({ host, port, backlog: options.backlog }, () => {
      server.off('error', onError)
      resolve()
    })
  })
  server.on('error', err => options.onError?.(transportError(err, `listener ${ma.toString()}`)))

  const bound = server.address() as AddressInfo
  const multiaddrs = Object.freeze(listenerMultiaddrs(bound.address, bound.port))
  let closing: Promise<void> | undefined

  return {
    multiaddrs,
    connections,
    close: async ({ closeConnections = false } = {}) => {
      closing ??= new Promise<void>(resolve => {
        // server.close() stops accepting at once; its callback would also wait for every open
        // connection, which is not what "stop accepting" means here.
        server.close()
        setImmediate(resolve)
      })
      await closing
      if (closeConnections) await Promise.all([...connections].map(c => c.close()))
    }
  }
}

/** One network interface address, as `os.networkInterfaces()` lists it. */
export interface InterfaceAddress {
  address: string
  family: string | number
}

/**
 * The multiaddrs a listener bound to `address`:`port` is reachable at. A wildcard (0.0.0.0 or ::)
 * expands to every interface address of that family, loopback first; IPv6 link-local addresses are
 * left out (they need a zone to be dialed).
 */
export function listenerMultiaddrs (
  address: string,
  port: number,
  interfaces: NodeJS.Dict<InterfaceAddress[]> = networkInterfaces()
): Multiaddr[] {
  const wildcard = address === '0.0.0.0' || address === '::'
  if (!wildcard) return [socketMultiaddr(address, port)]
  const v4 = address === '0.0.0.0'
  const out: Multiaddr[] = []
  for (const list of Object.values(interfaces)) {
    for (const iface of list ?? []) {
      // Node 18.0-18.3 reported family as a number.
      const isV4 = iface.family === 'IPv4' || iface.family === 4
      if (isV4 !== v4) continue
      if (!v4 && /^fe[89ab]/i.test(iface.address)) continue
      out.push(Multiaddr.fromNodeAddress(iface.address, port))
    }
  }
  out.sort((a, b) => Number(isLoopback(b)) - Number(isLoopback(a)))
  return out
}

function isLoopback (ma: Multiaddr): boolean {
  const c = ma.components[0]
  return (c?.code === CODE_IP4 && c.raw[0] === 127) || (c?.code === CODE_IP6 && c.value === '::1')
}
