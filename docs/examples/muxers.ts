// yamux and mplex (libp2p specs yamux, mplex) over loopback TCP: the dialer opens three streams,
// the listener echoes each one back. The same code runs with either muxer.
// Imports `switchyard/muxer/yamux`, `switchyard/muxer/mplex` and `switchyard/transport/tcp`.
import { createMplex } from 'switchyard/muxer/mplex'
import { createYamux } from 'switchyard/muxer/yamux'
import { dial, listen } from 'switchyard/transport/tcp'
import type { TcpConnection } from 'switchyard/transport/tcp'

for (const [name, create] of [['yamux', createYamux], ['mplex', createMplex]] as const) {
  let accepted: (c: TcpConnection) => void = () => {}
  const inbound = new Promise<TcpConnection>(resolve => { accepted = resolve })
  const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: c => { accepted(c) } })
  const client = create(await dial(listener.multiaddrs[0] ?? ''), { initiator: true })
  const server = create(await inbound, { initiator: false })
  server.onStream = stream => {
    void (async () => {
      for await (const chunk of stream) await stream.write(chunk) // echo until the client's FIN
      await stream.closeWrite()
    })()
  }
  const replies = await Promise.all([1, 2, 3].map(async n => {
    const stream = client.newStream()
    await stream.write(new TextEncoder().encode(`hello ${n}`))
    await stream.closeWrite()
    const parts: Uint8Array[] = []
    for await (const chunk of stream) parts.push(chunk)
    return `stream ${stream.id}: ${new TextDecoder().decode(Buffer.concat(parts))}`
  }))
  console.log(`${name}: ${replies.join('; ')}`)
  await client.close()
  await listener.close({ closeConnections: true })
}
