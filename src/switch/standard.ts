/**
 * `newStandardSwitch`: the switch as nim-libp2p's `newStandardSwitch` builds it (digest §10.1),
 * with the application protocols every libp2p node runs (identify, ping).
 */
import { AGENT_VERSION, IDENTIFY_PROTOCOL_VERSION } from '../protocols/constants.js'
import { identify, identifyProtocol, identifyPushProtocol } from '../protocols/identify.js'
import { pingProtocol } from '../protocols/ping.js'
import { Switch } from './switch.js'
import type { IdentifyService, SwitchOptions } from './switch.js'

/** identify as nim's builder mounts it: responder, push receiver, and a query on every connection. */
export const standardIdentify: IdentifyService = {
  protocol: identifyProtocol,
  push: identifyPushProtocol,
  query: async (stream, options) => await identify(stream, { timeoutMs: options.timeoutMs })
}

/**
 * A switch in the spirit of nim-libp2p's `newStandardSwitch`: an Ed25519 identity (generated
 * unless given), TCP listening on `/ip4/127.0.0.1/tcp/0`, Noise, yamux with mplex as the second
 * choice, identify (responder, push, and a query toward every new connection) and ping. Every
 * option of `new Switch(opts)` may be given; `protocols` are mounted after ping.
 */
export function newStandardSwitch (options: SwitchOptions = {}): Switch {
  return new Switch({
    agentVersion: AGENT_VERSION,
    protocolVersion: IDENTIFY_PROTOCOL_VERSION,
    identify: standardIdentify,
    ...options,
    protocols: [pingProtocol, ...(options.protocols ?? [])]
  })
}
