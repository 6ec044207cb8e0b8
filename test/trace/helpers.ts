/** A traced run of the tutorial's stream protocol (nim-libp2p tutorial 3) between two switches. */
import { expect } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import type { StandardSwitchOptions } from '../../src/index.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { Tracer } from '../../src/trace/tracer.js'

export const STREAM_PROTO = '/test/stream-proto/1.0.0'

/** A tracer sink that keeps every record (with a copy of its bytes: views may be reused). */
export const keep = (into: TraceRecord[]): { write: (r: TraceRecord) => void } => ({
  write: (r) => {
    into.push({ ...r, ...(r.bytes !== undefined ? { bytes: r.bytes.slice() } : {}) } as TraceRecord)
  }
})

/**
 * Two switches with `options` (both) and a tracer each; the dialer runs the tutorial's client
 * against the listener and both stop. The records of each end, and with `logKeys` the dialer's key
 * log lines.
 */
export async function tracedTutorialExchange (
  options: Pick<StandardSwitchOptions, 'transports' | 'listenAddrs'> = {},
  logKeys = false
): Promise<{ client: TraceRecord[], server: TraceRecord[], keyLog: string[] }> {
  const client: TraceRecord[] = []
  const server: TraceRecord[] = []
  const keyLog: string[] = []
  const s1 = newStandardSwitch({
    ...options,
    log: () => {},
    observer: new Tracer({ sinks: [keep(server)] }).switchObserver
  })
  const s2 = newStandardSwitch({
    ...options,
    log: () => {},
    observer: new Tracer({ sinks: [keep(client)] }).switchObserver,
    ...(logKeys ? { keyLog: (l: string) => { keyLog.push(l) } } : {})
  })
  s1.mount(streamProtoProtocol)
  await s1.start()
  await s2.start()
  try {
    const stream = await s2.dial(s1.peerInfo.peerId, s1.peerInfo.addrs, STREAM_PROTO)
    expect(await streamProtoClient(stream)).toHaveLength(11)
  } finally {
    await s2.stop()
    await s1.stop()
  }
  return { client, server, keyLog }
}
