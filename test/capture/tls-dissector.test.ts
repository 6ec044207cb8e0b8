/**
 * The capture decoder's TLS dissector on RFC 8448 §3's records, with the trace's secrets as an NSS
 * key log: every handshake message shown, application data handed on, alerts understood; without
 * the key log, the hellos only.
 */
import { describe, expect, it } from 'vitest'
import { TlsDissector } from '../../src/capture/tls-dissector.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import type { TraceEvent, TraceDirection } from '../../src/trace/observer.js'
import { rfc8448 } from '../security/tls/vectors.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const r = rfc8448.records
const FLOW: Array<[TraceDirection, Uint8Array]> = [
  ['out', r.clientHello], ['in', r.serverHello], ['in', r.serverFlight], ['out', r.clientFinished],
  ['in', r.newSessionTicket], ['out', r.clientData], ['in', r.serverData], ['out', r.clientAlert], ['in', r.serverAlert]
]

function run (
  keyLogText: string | undefined
): { events: TraceEvent[], data: Array<[TraceDirection, string]>, d: TlsDissector } {
  const events: TraceEvent[] = []
  const data: Array<[TraceDirection, string]> = []
  const d = new TlsDissector(
    e => {
      events.push(e)
    },
    keyLogText === undefined ? undefined : parseKeyLog(keyLogText),
    () => ({
      push: (dir, bytes) => {
        data.push([dir, hex(bytes)])
      }
    })
  )
  let t = 1
  for (const [dir, rec] of FLOW) {
    // split every record in two pieces: the dissector reassembles
    d.push(dir, rec.subarray(0, 3), t++)
    d.push(dir, rec.subarray(3), t++)
  }
  d.finish(t)
  return { events, data, d }
}

describe('TlsDissector on RFC 8448 §3', () => {
  it('decrypts the whole connection with the NSS key log', () => {
    const cr = hex(rfc8448.clientRandom)
    const s = rfc8448.secrets
    const { events, data, d } = run([
      `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${cr} ${hex(s.clientHandshakeTraffic)}`,
      `SERVER_HANDSHAKE_TRAFFIC_SECRET ${cr} ${hex(s.serverHandshakeTraffic)}`,
      `CLIENT_TRAFFIC_SECRET_0 ${cr} ${hex(s.clientApplicationTraffic)}`,
      `SERVER_TRAFFIC_SECRET_0 ${cr} ${hex(s.serverApplicationTraffic)}`
    ].join('\n'))
    expect(d.decrypted).toBe(true)
    expect(
      events.filter(e => e.layer === 'tls' && e.kind === 'handshake').map(e =>
        e.kind === 'handshake' ? `${e.dir} ${e.message}` : ''
      )
    ).toEqual([
      'out ClientHello',
      'in ServerHello',
      'in EncryptedExtensions',
      'in Certificate',
      'in CertificateVerify',
      'in Finished',
      'out Finished',
      'in NewSessionTicket'
    ])
    expect(events.find(e => e.kind === 'complete')).toMatchObject({
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      group: 'x25519'
    })
    expect(data).toEqual([['out', hex(rfc8448.appData)], ['in', hex(rfc8448.appData)]])
    expect(
      events.filter(e => e.layer === 'tls' && e.kind === 'alert').map(e =>
        e.kind === 'alert' ? `${e.dir} ${e.description}` : ''
      )
    ).toEqual(['out close_notify', 'in close_notify'])
    expect(events.filter(e => e.kind === 'error')).toEqual([])
  })

  it('without secrets: the hellos, then a note counting what stayed encrypted', () => {
    const { events, data, d } = run(undefined)
    expect(d.decrypted).toBe(false)
    expect(
      events.filter(e => e.layer === 'tls' && e.kind === 'handshake').map(e => e.kind === 'handshake' ? e.message : '')
    ).toEqual(['ClientHello', 'ServerHello'])
    expect(data).toEqual([])
    expect(events.filter(e => e.kind === 'note').map(e => e.kind === 'note' ? e.message : '').join('\n')).toMatch(
      /7 protected records/
    )
  })

  it('a corrupted record is an error event, never an exception', () => {
    const cr = hex(rfc8448.clientRandom)
    const s = rfc8448.secrets
    const log = parseKeyLog(
      `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${cr} ${hex(s.clientHandshakeTraffic)}\nSERVER_HANDSHAKE_TRAFFIC_SECRET ${cr} ${
        hex(s.serverHandshakeTraffic)
      }`
    )
    const events: TraceEvent[] = []
    const d = new TlsDissector(e => { events.push(e) }, log, () => undefined)
    d.push('out', r.clientHello, 1)
    d.push('in', r.serverHello, 2)
    const bad = Uint8Array.from(r.serverFlight)
    bad[100] = (bad[100] as number) ^ 1
    d.push('in', bad, 3)
    expect(events.filter(e => e.kind === 'error')).toHaveLength(1)
  })
})
