/**
 * A loopback UDP recorder for tests: a proxy on 127.0.0.1 that forwards each client's datagrams to
 * a target through its own upstream socket and records every datagram that crosses it, from the
 * client's view (the recorded server address is the proxy's), as synth.ts frames for a pcapng
 * file. A QUIC connection through it is a real one; only the server sees the proxy's address.
 */
import dgram from 'node:dgram'
import { udpFrameOf } from './synth.js'
import type { Frame, SynthDatagram } from './synth.js'

const now = (): number => performance.timeOrigin + performance.now()

export class UdpRecorder {
  readonly datagrams: SynthDatagram[] = []
  private readonly upstreams = new Map<string, dgram.Socket>()

  private constructor (
    private readonly socket: dgram.Socket,
    private readonly target: { host: string, port: number }
  ) {}

  static async start (target: { host: string, port: number }): Promise<UdpRecorder> {
    const socket = dgram.createSocket('udp4')
    const rec = new UdpRecorder(socket, target)
    socket.on('message', (msg, rinfo) => { rec.fromClient(new Uint8Array(msg), rinfo) })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => { resolve() })
    })
    return rec
  }

  get port (): number { return this.socket.address().port }

  private fromClient (msg: Uint8Array, rinfo: dgram.RemoteInfo): void {
    const client = { ip: rinfo.address, port: rinfo.port }
    const proxy = { ip: '127.0.0.1', port: this.port }
    const key = `${rinfo.address}:${rinfo.port}`
    let up = this.upstreams.get(key)
    if (up === undefined) {
      up = dgram.createSocket('udp4')
      up.on('message', (back) => {
        this.datagrams.push({ time: now(), src: proxy, dst: client, payload: new Uint8Array(back) })
        this.socket.send(back, rinfo.port, rinfo.address)
      })
      this.upstreams.set(key, up)
    }
    this.datagrams.push({ time: now(), src: client, dst: proxy, payload: msg })
    up.send(msg, this.target.port, this.target.host)
  }

  /** The recording as raw-IPv4 frames (link type 101). */
  frames (): Frame[] {
    return this.datagrams.map(d => udpFrameOf(101, d))
  }

  async stop (): Promise<void> {
    for (const s of this.upstreams.values()) s.close()
    await new Promise<void>(resolve => { this.socket.close(() => { resolve() }) })
  }
}
