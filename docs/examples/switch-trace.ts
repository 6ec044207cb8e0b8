// The composed stack: two switches (TCP, Noise, yamux), a ping, with the dialer's `--trace` view
// printed as text — including the identify exchange decoded field by field.
// Imports `switchyard/switch`, `switchyard/protocols` and `switchyard/trace`.
import { newStandardSwitch } from 'switchyard/switch'
import { ping } from 'switchyard/protocols'
import { TextTraceSink, Tracer } from 'switchyard/trace'

const trace = new Tracer({ sinks: [new TextTraceSink(line => { process.stdout.write(line) })] })
const server = newStandardSwitch({ log: () => {} })
const client = newStandardSwitch({ log: () => {}, listenAddrs: [], observer: trace.switchObserver })
await server.start()
await client.start()
const identified = client.next('identify')
const stream = await client.dial(server.peerInfo.peerId, server.peerInfo.addrs, '/ipfs/ping/1.0.0')
const rtts = await ping(stream, { count: 1 })
await identified
console.log(`ping: ${rtts.length} round trip(s)`)
await client.stop()
await server.stop()
