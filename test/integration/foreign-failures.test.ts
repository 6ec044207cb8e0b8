/**
 * Every failure a foreign peer can cause, reproduced with scripted raw-TCP peers that behave as
 * go-libp2p, rust-libp2p and js-libp2p do, and the one line switchyard reports for it: what happened,
 * at which layer. Each peer script names the implementation whose behaviour it copies.
 */
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { newStandardSwitch, PeerId } from '../../src/index.js'
import type { Switch, SwitchEvents } from '../../src/index.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { generateEd25519 } from '../../src/security/keys.js'

const HEADER = encodeMessage('/multistream/1.0.0')
const NA = encodeMessage('na')
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const PEER = PeerId.fromPublicKey(generateEd25519().publicKey).toString()

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

async function started (sw: Switch): Promise<Switch> {
  await sw.start()
  cleanups.push(async () => { await sw.stop() })
  return sw
}

/** A raw TCP listener running `script` on each connection; resolves with its port. */
async function scriptedListener (script: (socket: Socket) => void): Promise<number> {
  const server: Server = createServer(socket => { socket.on('error', () => {}); script(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => { await new Promise<void>(resolve => server.close(() => { resolve() })) })
  return (server.address() as AddressInfo).port
}

/** The next `connection:error` the switch reports. */
async function nextConnectionError (sw: Switch): Promise<SwitchEvents['connection:error']> {
  return await new Promise(resolve => { sw.on('connection:error', e => { resolve(e) }) })
}

/** Connect to our switch as a foreign dialer; `script` drives the socket. */
async function foreignDial (sw: Switch, script: (socket: Socket) => void): Promise<void> {
  const addr = sw.peerInfo.addrs[0]?.toString() ?? ''
  const port = Number(addr.split('/tcp/')[1])
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  cleanups.push(() => { socket.destroy() })
  await new Promise<void>(resolve => socket.once('connect', () => { resolve() }))
  script(socket)
}

describe('multistream: refusals win over the reset that follows them', () => {
  it('dialing a peer that offers only /tls/1.0.0 (go-libp2p: na, then a RST-close): "peer refused /noise (multistream: na)"', async () => {
    // go-multistream answers na to /noise, then reads our Noise bytes as its next proposal, fails
    // on them and closes the connection with them unread: the kernel sends RST.
    const port = await scriptedListener(socket => {
      let answered = false
      socket.on('data', () => {
        if (!answered) { answered = true; socket.write(cat(HEADER, NA)); return }
      })
      socket.once('data', () => { setImmediate(() => { socket.resetAndDestroy() }) })
    })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & { code: string }
    expect(err.message).toMatch(/peer refused \/noise \(multistream: na\)/)
    expect(err.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
  })

  it('a go-libp2p dialer offering only /tls/1.0.0 that resets after our na: "peer proposed /tls/1.0.0, which we do not support"', async () => {
    const sw = await started(newStandardSwitch({ log: () => {} }))
    const failed = nextConnectionError(sw)
    await foreignDial(sw, socket => {
      socket.write(cat(HEADER, encodeMessage('/tls/1.0.0')))
      socket.on('data', (b: Buffer) => { if (b.includes(Buffer.from('na\n'))) socket.resetAndDestroy() })
    })
    const { error, stage } = await failed
    expect(stage).toBe('multistream')
    expect(error.message).toMatch(/^peer proposed \/tls\/1\.0\.0, which we do not support \(multistream: na\), then reset the connection/)
    expect((error as Error & { code: string }).code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
  })

  it('a rust-libp2p dialer proposing /tls/1.0.0 lazily, ClientHello in the same flight: the refusal is the cause', async () => {
    const sw = await started(newStandardSwitch({ log: () => {} }))
    const failed = nextConnectionError(sw)
    // A ClientHello record: 0x16 (handshake) reads as a 22-byte multistream message without its newline.
    const clientHello = new Uint8Array(205)
    clientHello.set([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])
    await foreignDial(sw, socket => { socket.write(cat(HEADER, encodeMessage('/tls/1.0.0'), clientHello)) })
    const { error } = await failed
    expect(error.message).toMatch(/^peer proposed \/tls\/1\.0\.0, which we do not support \(multistream: na\); what followed was not multistream/)
  })

  it('a listener that RST-closes before answering: "peer reset the connection before sending the multistream header"', async () => {
    const port = await scriptedListener(socket => { socket.once('data', () => { socket.resetAndDestroy() }) })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & { code: string }
    expect(err.message).toMatch(/peer reset the connection before sending the multistream header \(we proposed \/noise\)/)
    expect(err.code).toBe('ERR_CONNECTION_RESET')
  })

  it('a listener that answers the header, then RST-closes: "peer reset the connection before answering our proposal of /noise"', async () => {
    const port = await scriptedListener(socket => { socket.once('data', () => { socket.write(HEADER, () => { setTimeout(() => { socket.resetAndDestroy() }, 20) }) }) })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & { code: string }
    expect(err.message).toMatch(/peer reset the connection before answering our proposal of \/noise \(multistream\)/)
  })
})
