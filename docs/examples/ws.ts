// WebSocket (RFC 6455) as a libp2p transport: listen on /ws, dial it, and echo bytes through the
// binary frames. Imports only `switchyard/transport/ws`.
import { dialWs, listenWs } from 'switchyard/transport/ws'

const listener = await listenWs('/ip4/127.0.0.1/tcp/0/ws', {
  onConnection: conn => {
    conn.attach({ onData: b => { conn.write([b]) }, onEnd: () => { conn.closeWrite() }, onClose: () => {} })
  }
})
const addr = listener.multiaddrs[0]?.toString() ?? ''
console.log(`listening on ${addr}`)
const conn = await dialWs(addr)
const echoed = new Promise<string>(resolve => {
  conn.attach({ onData: b => { resolve(new TextDecoder().decode(b)) }, onEnd: () => {}, onClose: () => {} })
})
conn.write([new TextEncoder().encode('hello over /ws')])
console.log(`echoed: ${await echoed}`)
await conn.close()
await listener.close({ closeConnections: true })
