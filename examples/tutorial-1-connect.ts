/**
 * nim-libp2p tutorial 1, "A simple ping application" (examples/tutorial_1_connect.md), ported
 * almost line for line: two switches, the first one mounts Ping, the second one dials it with the
 * ping codec and pings it once.
 *
 *   npm run build && node dist/examples/tutorial-1-connect.js
 *   ping: 1ms187us264ns
 *
 * Deviations from the nim text, each for a reason:
 * - no `rng` parameter: switchyard takes its randomness from node:crypto;
 * - the switches listen on 127.0.0.1, not 0.0.0.0: a demo has no reason to open a port to the network;
 * - the duration prints the way chronos prints a `Duration` (`1ms187us264ns`), as `echo` does there.
 */
import { mplex, noise, Switch, tcp } from '../src/index.js'
import { ping, pingProtocol, PING_CODEC as PingCodec } from '../src/protocols/index.js'

// A switch needs a bit of configuration; do it once (nim: SwitchBuilder … .build()).
function createSwitch (ma: string): Switch {
  const sw = new Switch({
    listenAddrs: [ma], // Our local address(es)
    transports: [tcp()], // Use TCP as transport
    muxers: [mplex()], // Use Mplex as muxer
    security: [noise()] // Use Noise as secure manager
  })

  return sw
}

async function main (): Promise<void> {
  // The port 0 means "take any port available"; the switch checks the multiaddr when it starts.
  const localAddress = '/ip4/127.0.0.1/tcp/0'

  const switch1 = createSwitch(localAddress)
  const switch2 = createSwitch(localAddress)

  switch1.mount(pingProtocol)

  await switch1.start()
  await switch2.start()

  const conn = await switch2.dial(switch1.peerInfo.peerId, switch1.peerInfo.addrs, PingCodec)

  // ping the other node and echo the ping duration
  const [rttMs] = await ping(conn)
  console.log(`ping: ${formatDuration(rttMs ?? 0)}`)

  // We must close the connection ourselves when we're done with it
  await conn.close()

  await Promise.all([switch1.stop(), switch2.stop()]) // close connections and shutdown all transports
}

/** A duration the way chronos' `$`(Duration) writes it: `1s`, `1ms187us264ns`, `0ns`. */
function formatDuration (ms: number): string {
  let ns = Math.round(ms * 1e6)
  if (ns === 0) return '0ns'
  let out = ''
  for (const [unit, size] of [['s', 1e9], ['ms', 1e6], ['us', 1e3], ['ns', 1]] as const) {
    if (ns >= size) {
      out += `${Math.floor(ns / size)}${unit}`
      ns %= size
    }
  }
  return out
}

await main()
