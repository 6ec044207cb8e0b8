/** Targets: varint, length-prefixed framing, protobuf fields (src/codec). */
import { decodeLp, encodeLp, LpDecoder } from '../../src/codec/length-prefixed.js'
import { decodeFields, ProtoWriter } from '../../src/codec/protobuf.js'
import { decodeUvarint, encodeUvarint } from '../../src/codec/varint.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, pieces, utf8, whole } from './util.js'

export const targets: FuzzTarget[] = [
  {
    name: 'codec/varint',
    seeds: () => [
      Uint8Array.of(0),
      Uint8Array.of(0x7f),
      Uint8Array.of(0x80, 0x01),
      encodeUvarint(2 ** 53 - 1),
      Uint8Array.of(0x80, 0x00)
    ],
    maxLength: 16,
    run: data => {
      const [value, n] = decodeUvarint(data)
      if (n === 0) return
      // oracle: what decodes re-encodes to the same bytes (minimal encoding is enforced)
      const again = encodeUvarint(value)
      if (again.length !== n || again.some((b, i) => b !== data[i])) {
        throw new Error(`varint ${value} decoded from ${n} bytes re-encodes differently`)
      }
    }
  },
  {
    name: 'codec/lp',
    seeds: () => [
      whole(encodeLp(utf8('hello')), encodeLp(new Uint8Array(0))),
      pieces(1, encodeLp(new Uint8Array(300)), encodeLp(utf8('x'))),
      whole(Uint8Array.of(0xff, 0xff, 0xff, 0x0f))
    ],
    run: data => {
      const dec = new LpDecoder(1024)
      const got: Uint8Array[] = []
      for (const c of chunks(data)) got.push(...dec.push(c))
      // oracle: the incremental decoder agrees with decodeLp over the whole input
      const all = data.subarray(1)
      let offset = 0
      const expect: Uint8Array[] = []
      for (;;) {
        const r = decodeLp(all, offset, 1024)
        if (r === undefined) break
        expect.push(r[0])
        offset += r[1]
      }
      if (got.length !== expect.length) {
        throw new Error(`LpDecoder gave ${got.length} messages, decodeLp ${expect.length}`)
      }
    }
  },
  {
    name: 'codec/protobuf',
    seeds: () => {
      const w = new ProtoWriter()
      w.varint(1, 7)
      w.bytes(2, utf8('abc'))
      w.string(3, 'text')
      w.varint(4, 0)
      return [w.finish(), Uint8Array.of(0x0d, 1, 2, 3, 4), Uint8Array.of(0x09, 1, 2, 3, 4, 5, 6, 7, 8)]
    },
    dictionary: [
      Uint8Array.of(0x08),
      Uint8Array.of(0x12),
      Uint8Array.of(0x1a),
      Uint8Array.of(0x0d),
      Uint8Array.of(0x09)
    ],
    run: data => {
      decodeFields(data)
      decodeFields(data, { uint64: true })
    }
  }
]
