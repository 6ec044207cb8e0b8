/** Targets: the WebSocket frame receiver, session and HTTP upgrade parser (src/transport/ws, RFC 6455). */
import {
  checkUpgradeRequest,
  checkUpgradeResponse,
  findHeadEnd,
  parseHttpHead
} from '../../src/transport/ws/handshake.js'
import { encodeFrame, decodeFrameHeader } from '../../src/transport/ws/frame.js'
import { Receiver } from '../../src/transport/ws/receiver.js'
import { WsSession } from '../../src/transport/ws/session.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, concat, fixedClock, pieces, utf8, whole } from './util.js'

const KEY = new Uint8Array([1, 2, 3, 4])
const fr = (opcode: number, payload: Uint8Array, fin = true, masked = true): Uint8Array =>
  concat(...encodeFrame(opcode, payload, { fin, maskKey: masked ? KEY : undefined }))
const SEEDS = (): Uint8Array[] => [
  whole(fr(2, utf8('hello')), fr(9, utf8('ping')), fr(8, Uint8Array.of(3, 232))),
  pieces(
    3,
    fr(2, utf8('frag'), false),
    fr(0, utf8('ment'), false),
    fr(9, new Uint8Array(0)),
    fr(0, new Uint8Array(200))
  ),
  whole(fr(1, utf8('text')), fr(2, new Uint8Array(70000))),
  whole(fr(8, concat(Uint8Array.of(3, 232), utf8('bye'))), fr(2, utf8('after close')))
]
const REQUEST =
  'GET / HTTP/1.1\r\nHost: localhost:4001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
const RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'

export const targets: FuzzTarget[] = [
  {
    name: 'ws/receiver',
    seeds: SEEDS,
    maxLength: 16384,
    run: data => {
      const r = new Receiver({ onHeader: () => {}, onPayload: () => {}, onFrameEnd: () => {}, onControl: () => {} }, {
        expectMasked: true
      })
      // the receiver unmasks in place: give it its own copy
      for (const c of chunks(data.slice())) r.push(c)
      decodeFrameHeader(data)
    }
  },
  {
    name: 'ws/session',
    seeds: SEEDS,
    maxLength: 16384,
    run: (data, report) => {
      const clock = fixedClock()
      const s = new WsSession({
        role: 'server',
        now: clock.now,
        randomFill: t => { t.fill(7) },
        maxMessageBytes: 1 << 16,
        host: {
          onData: () => {},
          onOutput: () => {},
          onRemoteEnd: () => {},
          onClosed: () => {},
          onFailure: err => {
            report(err)
          }
        }
      })
      for (const c of chunks(data.slice())) { s.receive(c); s.takeOutbox(); clock.advance(100); s.tick() }
      s.transportEnded()
    }
  },
  {
    name: 'ws/upgrade',
    seeds: () => [utf8(REQUEST), utf8(RESPONSE), utf8('GET / HTTP/1.0\r\n\r\n')],
    dictionary: [
      '\r\n',
      ': ',
      'Upgrade',
      'websocket',
      'Connection',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Version',
      '13',
      'HTTP/1.1',
      ' 101 ',
      'Sec-WebSocket-Accept',
      ',',
      '\t'
    ],
    run: (data, report) => {
      const end = findHeadEnd(data)
      const head = end < 0 ? data : data.subarray(0, end)
      try { checkUpgradeRequest(parseHttpHead(head, 'request')) } catch (err) { report(err) }
      checkUpgradeResponse(parseHttpHead(head, 'response'), 'dGhlIHNhbXBsZSBub25jZQ==')
    }
  }
]
