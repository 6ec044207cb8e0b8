// The codecs under every libp2p message: an unsigned varint, a length-prefixed message, a protobuf.
// Run: node codec.js (after `tsc`); imports only `switchyard/codec`.
import { decodeFields, decodeLp, decodeUvarint, encodeLp, encodeUvarint, ProtoWriter, WireType } from 'switchyard/codec'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const varint = encodeUvarint(300)
console.log(`varint 300 = ${hex(varint)}, decodes to ${decodeUvarint(varint, 0)[0]}`)

const message = encodeLp(new TextEncoder().encode('hello'))
const [body, used] = decodeLp(message, 0, 1024) ?? [new Uint8Array(0), 0]
console.log(`length-prefixed "hello" = ${hex(message)} (${used} bytes), body "${new TextDecoder().decode(body)}"`)

// identify.proto field 6 (agentVersion, a string) and field 2 (listenAddrs, bytes)
const proto = new ProtoWriter().string(6, 'switchyard').bytes(2, Uint8Array.of(0x04, 127, 0, 0, 1)).finish()
console.log(`protobuf = ${hex(proto)}`)
for (const f of decodeFields(proto)) console.log(`  field ${f.field}, wire type ${f.wireType === WireType.LengthDelimited ? 'LEN' : f.wireType}, ${f.bytes.length} bytes`)
