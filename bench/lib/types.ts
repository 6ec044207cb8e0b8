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
  /** The physical limit (raw TCP, bare cipher), where one applies: the tightest of `limits`. */
  limit?: number
  limitName?: string
  /** Every limit measured for this figure (e.g. raw TCP and the bare cipher), when more than one. */
  limits?: Array<{ name: string, value: number }>
  /** Unit of all three figures, e.g. "ops/s", "MiB/s", "ms". */
  unit: string
  /** true when smaller is better (latencies, memory). */
  lowerIsBetter?: boolean
  /** min and max of `ours` over the runs. */
  oursRange?: [number, number]
  anchorRange?: [number, number]
  /**
   * Further implementations measured the same way in the same run (end-to-end rows: go-libp2p,
   * rust-libp2p), each a column of its own beside the anchor.
   */
  peers?: Array<{ name: string, value: number, range?: [number, number] }>
  /** Targets from the issue, checked on the ratio ours / reference. */
  goals?: Goal[]
  /** A short note shown under the table (why a row looks the way it does). */
  note?: string
}

/**
 * A target on the ratio `ours / reference`: `against` is 'anchor', 'limit' (the row's tightest
 * limit), 'best foreign' (the best of the anchor and the peers), the name of a peer
 * (`go-libp2p`) or the name of one entry of `limits`. Example: bulk throughput `{ against: 'anchor',
 * op: '>=', ratio: 3 }` = at least 3x js-libp2p.
 */
export interface Goal {
  against: string
  op: '>=' | '<='
  ratio: number
  /** How the table prints it, e.g. "≥3x js". */
  label: string
}
