/**
 * A loopback TCP recorder for tests: a proxy on 127.0.0.1 that forwards every connection to a
 * target and records what crosses it as TCP segments with correct sequence numbers (synthesized
 * SYN/SYN-ACK/ACK, data split at the MSS, FIN or RST), from which synth.ts writes pcap/pcapng files.
 * The client's view is kept: the recorded server address is the proxy's listening address, which
 * is what the dialing peer sees (and writes into its key log).
 */
import net from 'node:net'
import { TcpFlow } from './synth.js'
import type { SynthSegment } from './synth.js'

const now = (): number => performance.timeOrigin + performance.now()

export class LoopbackRecorder {
  readonly segments: SynthSegment[] = []
  /** Connections whose two FINs (or an RST) have not both been recorded yet. */
  openFlows = 0
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private isn = 0x10000

  private constructor (server: net.Server, readonly mss: number) {
    this.server = server
  }

  /** Listen on 127.0.0.1 (`listenPort`, default a free port) and forward each connection to `target`. */
  static async start (target: { host: string, port: number }, mss = 1460, listenPort = 0): Promise<LoopbackRecorder> {
    let rec: LoopbackRecorder | undefined
    const server = net.createServer({ allowHalfOpen: true }, client => { rec?.accept(client, target) })
    rec = new LoopbackRecorder(server, mss)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listenPort, '127.0.0.1', resolve)
    })
    return rec
  }

  get port (): number { return (this.server.address() as net.AddressInfo).port }

  private accept (client: net.Socket, target: { host: string, port: number }): void {
    this.sockets.add(client)
    const flow = new TcpFlow(
      { ip: client.remoteAddress as string, port: client.remotePort as number },
      { ip: client.localAddress as string, port: client.localPort as number },
      this.isn, 0xfffff000 + this.isn % 1000, // the server's ISN wraps around 2^32 within the first 4 KiB
      this.mss, this.segments)
    this.isn += 0x1000000
    flow.handshake(now())
    this.openFlows++
    let fins = 0
    let done = false
    const ended = (): void => { if (!done && ++fins === 2) { done = true; this.openFlows-- } }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
    this.sockets.add(upstream)
    let pending: Buffer[] | undefined = []
    upstream.on('connect', () => { for (const b of pending ?? []) upstream.write(b); pending = undefined })
    client.on('data', (b: Buffer) => {
      flow.send(true, now(), new Uint8Array(b))
      if (pending !== undefined) pending.push(b); else upstream.write(b)
    })
    upstream.on('data', (b: Buffer) => { flow.send(false, now(), new Uint8Array(b)); client.write(b) })
    client.on('end', () => { flow.fin(true, now()); upstream.end(); ended() })
    upstream.on('end', () => { flow.fin(false, now()); client.end(); ended() })
    const reset = (fromClient: boolean) => () => {
      flow.rst(fromClient, now()); client.destroy(); upstream.destroy()
      if (!done) { done = true; this.openFlows-- }
    }
    client.on('error', reset(true))
    upstream.on('error', reset(false))
    client.on('close', () => this.sockets.delete(client))
    upstream.on('close', () => this.sockets.delete(upstream))
  }

  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
