import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as C from '../../src/protocols/constants.js'

describe('protocol constants (pinned to their specs)', () => {
  it('protocol ids', () => {
    expect(C.STREAM_PROTO_CODEC).toBe('/test/stream-proto/1.0.0')
    expect(C.PING_CODEC).toBe('/ipfs/ping/1.0.0')
    expect(C.IDENTIFY_CODEC).toBe('/ipfs/id/1.0.0')
    expect(C.IDENTIFY_PUSH_CODEC).toBe('/ipfs/id/push/1.0.0')
    expect(C.PERF_CODEC).toBe('/perf/1.0.0')
    expect(C.ECHO_CODEC).toBe('/switchyard/echo/1.0.0')
  })

  it('limits and sizes', () => {
    expect(C.STREAM_PROTO_MAX_MESSAGE_BYTES).toBe(1024)
    expect(C.STREAM_PROTO_REQUEST).toBe('please send data')
    expect(C.STREAM_PROTO_PART_COUNT).toBe(11)
    expect(C.PING_PAYLOAD_BYTES).toBe(32)
    expect(C.PING_SERVER_IDLE_TIMEOUT_MS).toBe(60_000)
    expect(C.PING_CLIENT_TIMEOUT_MS).toBe(10_000)
    expect(C.PING_MAX_INBOUND_STREAMS).toBe(2)
    expect(C.IDENTIFY_MAX_MESSAGE_BYTES).toBe(8192)
    expect(C.IDENTIFY_MAX_MESSAGES).toBe(10)
    expect(C.IDENTIFY_TIMEOUT_MS).toBe(5000)
    expect(C.PERF_HEADER_BYTES).toBe(8)
    expect(C.PERF_BLOCK_BYTES).toBe(65536)
    expect(C.PERF_PROGRESS_INTERVAL_MS).toBe(1000)
  })

  it('identify versions; SWITCHYARD_VERSION follows package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(C.SWITCHYARD_VERSION).toBe(pkg.version)
    expect(C.AGENT_VERSION).toBe(`switchyard/${pkg.version}`)
    expect(C.IDENTIFY_PROTOCOL_VERSION).toBe('ipfs/0.1.0')
  })
})
