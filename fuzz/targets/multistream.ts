/** Targets: multistream-select messages and the Dialer/Listener/ls machines (src/multistream). */
import { encodeLp } from '../../src/codec/length-prefixed.js'
import { decodeLsResponse, encodeLsResponse, encodeMessage, MessageReader } from '../../src/multistream/messages.js'
import { Dialer, Listener, LsRequest } from '../../src/multistream/negotiation.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, pieces, utf8, whole } from './util.js'

const HEADER = '/multistream/1.0.0'
const PROTOCOLS = ['/yamux/1.0.0', '/mplex/6.7.0', '/noise']
const m = (s: string): Uint8Array => encodeMessage(s)
const DICT = [HEADER, ...PROTOCOLS, 'na', 'ls', '\n', m(HEADER), m('na'), m('ls')]

export const targets: FuzzTarget[] = [
  {
    name: 'multistream/listener',
    seeds:
      () => [
        whole(m(HEADER), m('/noise'), utf8('after')),
        pieces(1, m(HEADER), m('/tls/1.0.0'), m('/noise')),
        whole(m(HEADER), m('ls')),
        whole(utf8('GET / HTTP/1.1\r\n\r\n'))
      ],
    dictionary: DICT,
    run: data => {
      const l = new Listener(PROTOCOLS)
      for (const c of chunks(data)) {
        const step = l.receive(c)
        if (step.protocol !== undefined) break
      }
      l.endOfInput()
    }
  },
  {
    name: 'multistream/dialer',
    seeds:
      () => [
        whole(m(HEADER), m('/noise')),
        whole(m(HEADER), m('na'), m('/mplex/6.7.0')),
        pieces(2, m(HEADER), m('na'), m('na'), m('na'))
      ],
    dictionary: DICT,
    run: data => {
      const d = new Dialer(PROTOCOLS)
      d.start()
      for (const c of chunks(data)) {
        if (d.receive(c).protocol !== undefined) break
      }
      d.endOfInput()
    }
  },
  {
    name: 'multistream/ls',
    seeds: () => [whole(m(HEADER), encodeLp(encodeLsResponse(PROTOCOLS))), whole(encodeLsResponse(['/a']))],
    dictionary: DICT,
    run: (data, report) => {
      try { decodeLsResponse(data.subarray(1)) } catch (err) { report(err) }
      const ls = new LsRequest()
      ls.start()
      for (const c of chunks(data)) if (ls.receive(c) !== undefined) break
      const r = new MessageReader()
      for (const c of chunks(data)) r.push(c)
      while (r.nextMessage() !== undefined);
    }
  }
]
