import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ResourceLimitError, SwitchyardError } from '../../src/errors.js'
import { DEFAULT_RESOURCE_CONFIG, ResourceManager, resourceConfig } from '../../src/resources/index.js'

const MiB = 1024 * 1024

describe('resource scopes: process ── peer ── connection', () => {
  it('documented defaults: 256 MiB process, 32 MiB and 1000 streams per peer', () => {
    expect(DEFAULT_RESOURCE_CONFIG.process.memoryBytes).toBe(256 * MiB)
    expect(DEFAULT_RESOURCE_CONFIG.peer.memoryBytes).toBe(32 * MiB)
    expect(DEFAULT_RESOURCE_CONFIG.peer.streams).toBe(1000)
    expect(DEFAULT_RESOURCE_CONFIG.connection.inboundStreams).toBe(256)
  })

  it('a reservation counts in every ancestor; release gives it back everywhere', () => {
    const rm = new ResourceManager()
    const c = rm.openConnection('A', 'conn 1') as ReturnType<ResourceManager['peer']>
    expect(c.reserveMemory(1000)).toBeUndefined()
    expect([c.memory, rm.peer('A').memory, rm.process.memory]).toEqual([1000, 1000, 1000])
    c.releaseMemory(400)
    expect([c.memory, rm.peer('A').memory, rm.process.memory]).toEqual([600, 600, 600])
    expect(() => { c.releaseMemory(601) }).toThrow(/invariant/)
  })

  it('the full scope refuses with a typed error naming it, and nothing is reserved anywhere', () => {
    const rm = new ResourceManager({ peer: { memoryBytes: 1000 } })
    const c1 = rm.openConnection('A', 'conn 1') as ReturnType<ResourceManager['peer']>
    const c2 = rm.openConnection('A', 'conn 2') as ReturnType<ResourceManager['peer']>
    expect(c1.reserveMemory(700)).toBeUndefined()
    const err = c2.reserveMemory(301)
    expect(err).toBeInstanceOf(ResourceLimitError)
    expect(err).toMatchObject({ code: 'ERR_RESOURCE_LIMIT', scope: 'peer', resource: 'memory' })
    expect(err?.message).toMatch(/"peer memory" expected <= 1000 bytes, got 1001 \(peer A, for conn 2/)
    expect([c2.memory, rm.peer('A').memory, rm.process.memory]).toEqual([0, 700, 700])
    expect(rm.peer('A').refused.memory).toBe(1)
    // another peer is not affected
    const b = rm.openConnection('B', 'conn 3') as ReturnType<ResourceManager['peer']>
    expect(b.reserveMemory(1000)).toBeUndefined()
  })

  it('streams: total and inbound limits; connections per peer', () => {
    const rm = new ResourceManager({ peer: { streams: 3, inboundStreams: 2, connections: 1 } })
    const c = rm.openConnection('A', 'conn 1') as ReturnType<ResourceManager['peer']>
    expect(c.addStream('inbound')).toBeUndefined()
    expect(c.addStream('inbound')).toBeUndefined()
    expect(c.addStream('inbound')?.message).toMatch(/"peer inbound streams" expected <= 2/)
    expect(c.addStream('outbound')).toBeUndefined()
    expect(c.addStream('outbound')?.message).toMatch(/"peer streams" expected <= 3/)
    const refused = rm.openConnection('A', 'conn 2')
    expect(refused).toBeInstanceOf(SwitchyardError)
    expect((refused as Error).message).toMatch(/"peer connections" expected <= 1/)
  })

  it('closing a connection scope returns everything it held and forgets an idle peer', () => {
    const rm = new ResourceManager()
    const c = rm.openConnection('A', 'conn 1') as ReturnType<ResourceManager['peer']>
    c.reserveMemory(5 * MiB)
    c.addStream('inbound'); c.addStream('outbound')
    expect(rm.inspect().peers).toHaveLength(1)
    expect(rm.inspect().connections[0]).toMatchObject({
      usage: { memoryBytes: 5 * MiB, inboundStreams: 1, outboundStreams: 1 }
    })
    c.close()
    c.close()
    const v = rm.inspect()
    expect(v.process.usage).toMatchObject({ memoryBytes: 0, inboundStreams: 0, outboundStreams: 0, connections: 0 })
    expect(v.peers).toEqual([])
    expect(v.connections).toEqual([])
    expect(c.reserveMemory(1)).toBeInstanceOf(ResourceLimitError)
  })

  it('config: unknown fields and bad values are refused, naming the field', () => {
    expect(() => resourceConfig({ peer: { memory: 1 } as never })).toThrow(
      /"resources.peer.memory" is not a resource limit/
    )
    expect(() => resourceConfig({ process: { streams: -1 } })).toThrow(
      /"resources.process.streams" expected a non-negative integer/
    )
    expect(resourceConfig({ peer: { memoryBytes: Infinity } }).peer.memoryBytes).toBe(Infinity)
  })

  it('property: any sequence of reserve/release keeps every scope within its limit and sums exact', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(3), fc.boolean(), fc.nat(3000)), { maxLength: 200 }), (ops) => {
      const rm = new ResourceManager({
        process: { memoryBytes: 5000 },
        peer: { memoryBytes: 3000 },
        connection: { memoryBytes: 2000 }
      })
      const conns = [['A', 1], ['A', 2], ['B', 3], ['C', 4]].map(([p, n]) =>
        rm.openConnection(String(p), `conn ${String(n)}`) as ReturnType<ResourceManager['peer']>
      )
      for (const [i, reserve, n] of ops) {
        const c = conns[i] as ReturnType<ResourceManager['peer']>
        if (reserve) c.reserveMemory(n)
        else c.releaseMemory(Math.min(n, c.memory))
        const v = rm.inspect()
        expect(v.process.usage.memoryBytes).toBeLessThanOrEqual(5000)
        for (const p of v.peers) expect(p.usage.memoryBytes).toBeLessThanOrEqual(3000)
        expect(v.process.usage.memoryBytes).toBe(conns.reduce((a, x) => a + x.memory, 0))
      }
      for (const c of conns) c.close()
      expect(rm.process.memory).toBe(0)
    }))
  })
})
