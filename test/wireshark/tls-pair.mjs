// Two js-libp2p nodes over /tls/1.0.0 + yamux on loopback, for test/wireshark/tshark.test.ts: run
// with `node --tls-keylog=<file>` (Node writes the NSS key log Wireshark reads). Prints
// `PORT <listener port>`, waits for a line on stdin (the capture is running), then the dialer pings
// the listener (identify runs too), and both stop.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((_resolve, _reject) => { resolve = _resolve; reject = _reject })
  return { promise, resolve, reject }
}
const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { tls } = await import('@libp2p/tls')
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { ping } = await import('@libp2p/ping')
const { identify } = await import('@libp2p/identify')

const node = () => createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [tls()],
  streamMuxers: [yamux()],
  services: { ping: ping(), identify: identify() }
})
const listener = await node()
const dialer = await node()
const addr = listener.getMultiaddrs()[0]
process.stdout.write(`PORT ${addr.toString().split('/')[4]}\n`)
await new Promise(resolve => process.stdin.once('data', resolve))
const rtt = await dialer.services.ping.ping(addr)
process.stdout.write(`RTT ${rtt}\n`)
// let identify finish on both sides before closing
await new Promise(resolve => setTimeout(resolve, 300))
await dialer.stop()
await listener.stop()
process.exit(0)
