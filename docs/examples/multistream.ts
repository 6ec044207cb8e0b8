// multistream-select (libp2p specs connections, multistream-select README) between two in-memory
// machines: the dialer proposes /noise then /tls/1.0.0, the listener only knows TLS. Every message
// is printed as it crosses. Imports only `switchyard/multistream`.
import { Dialer, Listener } from 'switchyard/multistream'

const show = (who: string, chunks: Uint8Array[]): void => {
  for (const c of chunks) console.log(`${who} -> ${JSON.stringify(new TextDecoder().decode(c.subarray(1)))}`)
}

const dialer = new Dialer(['/noise', '/tls/1.0.0'])
const listener = new Listener(['/tls/1.0.0'])
let toListener = dialer.start()
let agreed: string | undefined
while (agreed === undefined && toListener.length > 0) {
  show('dialer  ', toListener)
  const answer = listener.receive(Uint8Array.from(Buffer.concat(toListener)))
  show('listener', answer.send)
  const next = dialer.receive(Uint8Array.from(Buffer.concat(answer.send)))
  agreed = next.protocol
  toListener = next.send
}
console.log(`agreed on ${agreed ?? 'nothing'}`)
