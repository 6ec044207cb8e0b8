/**
 * switchyard in the end-to-end benchmark: a Switch (TCP and WebSocket, Noise or TLS 1.3 as the
 * variant asks, yamux; the defaults users get: early muxer negotiation) serving perf, echo and
 * ping. No identify, like the js-libp2p node it is compared with. Only the limits are raised
 * (MAX_CONNECTIONS, MAX_STREAMS).
 */
import { standardLayers, Switch } from '../../src/index.js'
import type { SwitchOptions } from '../../src/index.js'
import { echoProtocol } from '../../src/protocols/echo.js'
import { perfProtocol } from '../../src/protocols/perf.js'
import { pingProtocol } from '../../src/protocols/ping.js'
import type { BenchClient, BenchConnection, BenchServer, Protocol, Variant } from './impl.js'
import { MAX_CONNECTIONS, MAX_STREAMS, PERF } from './impl.js'

const options = (v: Variant): SwitchOptions => standardLayers({
  muxers: ['yamux'],
  security: [v.security],
  config: {
    maxConnections: MAX_CONNECTIONS,
    maxPendingConnections: 1024,
    maxPendingDials: 1024,
    maxInboundStreamsPerConnection: MAX_STREAMS,
    maxOutboundStreamsPerConnection: MAX_STREAMS
  },
  yamux: { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS },
  // The resource budgets' stream and connection counts (256 inbound streams per connection,
  // 1024 connections per process by default) raised like every other limit; memory stays default.
  resources: {
    process: { streams: 4 * MAX_STREAMS, inboundStreams: 4 * MAX_STREAMS, connections: 2 * MAX_CONNECTIONS },
    peer: { streams: MAX_STREAMS, inboundStreams: MAX_STREAMS, connections: MAX_CONNECTIONS },
    connection: { streams: MAX_STREAMS, inboundStreams: MAX_STREAMS }
  },
  log: () => {}
})

export async function startServer (listen: string, variant: Variant): Promise<BenchServer> {
  const sw = new Switch({
    ...options(variant),
    listenAddrs: [listen],
    protocols: [perfProtocol, { ...echoProtocol, maxIncomingStreams: MAX_STREAMS, maxOutgoingStreams: MAX_STREAMS }, {
      ...pingProtocol,
      maxIncomingStreams: MAX_STREAMS
    }]
  })
  await sw.start()
  const a = sw.peerInfo.addrs[0]
  if (a === undefined) throw new Error('switchyard server: no listen address')
  return {
    addr: `${a.toString()}/p2p/${sw.peerId.toString()}`,
    stats: () => {
      const conns = sw.connections()
      let streams = 0
      for (const c of conns) streams += c.streamCount
      return { connections: conns.length, streams }
    },
    stop: async () => { await sw.stop() }
  }
}

export async function startClient (variant: Variant): Promise<BenchClient> {
  const OPTIONS = options(variant)
  // One switch keeps one connection per peer; a fresh connection while another is open to the same
  // server (the 1000-connection memory figure) comes from another switch of this pool.
  const pool: Switch[] = []
  const busy = new Set<Switch>()
  const take = async (peer: string): Promise<Switch> => {
    for (const sw of pool) if (!busy.has(sw) && sw.connections(peer).length === 0) return sw
    const sw = new Switch({ ...OPTIONS, listenAddrs: [] })
    await sw.start()
    pool.push(sw)
    return sw
  }
  // The first switch exists before the first dial, as js-libp2p's node does (startClient): a cold
  // setup figure times the first connection, not the construction of the node.
  await take('')
  return {
    oneStreamPerConnection: false,
    connect: async (addr: string): Promise<BenchConnection> => {
      const peer = addr.slice(addr.lastIndexOf('/p2p/') + 5)
      const sw = await take(peer)
      busy.add(sw)
      let conn
      try {
        conn = await sw.dial(addr)
      } catch (err) {
        busy.delete(sw)
        throw err
      }
      return {
        // Optimistic select (the 3-RTT path) for echo and ping: those workloads write first, and
        // the first read checks the listener's answer, so the stream is negotiated by the time a
        // figure is taken. perf negotiates fully: a download request is the proposal, 8 bytes and
        // FIN, which js-libp2p 3.3 cannot take in one flight (it aborts the stream: "Cannot push
        // data onto a stream that is closed"; the WAN bench drives js-libp2p servers). The lazy
        // select now holds the FIN until the listener answered (d00b9ec), but one extra round
        // trip per transfer costs the bulk figures nothing, so they do not depend on that.
        stream: async (protocol: Protocol) => await conn.newStream(protocol, { lazy: protocol !== PERF }),
        close: async () => {
          try {
            await conn.close()
          } finally {
            busy.delete(sw)
            // Only the first two switches stay: the first holds the long-lived connection, the second
            // dials the setup figure's connections one after the other (as go's bench client keeps
            // one dialer host: a setup sample times the dial, not a switch's construction and stop).
            // A thousand idle switches kept around would make every later GC of this process dearer
            // (bulk throughput halved when they were).
            const i = pool.indexOf(sw)
            if (i > 1) { pool.splice(i, 1); await sw.stop() }
          }
        }
      }
    },
    stop: async () => { await Promise.all(pool.map(async sw => { await sw.stop() })) }
  }
}
