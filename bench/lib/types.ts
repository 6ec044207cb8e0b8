/** One figure of the benchmark table: ours beside the anchor measured in the same run. */
export interface BenchRow {
  /** Section of the table, e.g. "codec", "noise", "yamux", "loopback". */
  group: string
  /** What was measured, e.g. "varint decode 1 B". */
  name: string
  /** switchyard's figure (median over the runs). */
  ours: number
  /** The comparison implementation's figure measured in the same run. */
  anchor?: number
  /** Name of the anchor, e.g. "uint8-varint", "js-libp2p". */
  anchorName?: string
  /** The physical limit (raw TCP, bare cipher), where one applies. */
  limit?: number
  limitName?: string
  /** Unit of all three figures, e.g. "ops/s", "MiB/s", "ms". */
  unit: string
  /** true when smaller is better (latencies, memory). */
  lowerIsBetter?: boolean
  /** min and max of `ours` over the runs. */
  oursRange?: [number, number]
  anchorRange?: [number, number]
}
