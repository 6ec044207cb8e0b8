/**
 * A ping listener that behaves as nim-libp2p v1.x does (`libp2p/protocols/ping.nim`): its handler
 * reads ONE 32-byte payload, echoes it and returns, after which nim's switch closes the stream
 * (FIN). A dialer that repeats on the same stream then meets the end of the stream where its second
 * echo should begin. nim is not installable here, so the interop tests use this stand-in.
 */
import type { Stream } from '../../src/connection.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import type { ProtocolDefinition } from '../../src/protocols/types.js'

/** nim's `Ping.handle`: one payload, one echo, then the stream is closed. */
export async function nimPingHandler (stream: Stream): Promise<void> {
  const payload = await stream.readExactly(32)
  await stream.write(payload)
  await stream.close()
}

/** Mount in place of switchyard's ping (a bare `Switch`, since newStandardSwitch mounts its own). */
export const nimPingProtocol: ProtocolDefinition = {
  codecs: [PING_CODEC],
  handler: async (stream) => {
    await nimPingHandler(stream)
  }
}
