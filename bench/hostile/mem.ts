/**
 * Where a listener's memory sits, after full GCs: its `mem` command (bench/hostile/listener.ts),
 * read by bench:hostile and the soak. Needs `node --expose-gc`.
 */
import { readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'

// a type, not an interface: the control channel's Json wants an index signature (bench/e2e/control.ts)
export type ListenerMem = {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  /** V8's new space: grows to its maximum under a high allocation rate and is not shrunk by a full GC. */
  newSpace: number
  rssAnon: number
  rssFile: number
  brkHeap: number
  otherAnon: number
}

/** RssAnon / RssFile of /proc/self/status in bytes (0 where there is no procfs). */
function statusRss (): { rssAnon: number, rssFile: number } {
  try {
    const st = readFileSync('/proc/self/status', 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? 0) * 1024
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') }
  } catch {
    return { rssAnon: 0, rssFile: 0 }
  }
}
/**
 * Linux: the resident bytes of the `[heap]` mapping (glibc's main malloc arena, grown with brk; what it keeps
 * after free() stays resident) and of the other anonymous mappings (V8's heap pages, mmapped malloc chunks,
 * other arenas), from /proc/self/smaps; 0 where there is none.
 */
function smapsRss (): { brkHeap: number, otherAnon: number } {
  let brkHeap = 0
  let otherAnon = 0
  try {
    let current = ''
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
      if (head !== null) { current = head[1] ?? ''; continue }
      const rss = /^Rss:\s+(\d+) kB/.exec(line)
      if (rss === null) continue
      if (current === '[heap]') brkHeap += Number(rss[1]) * 1024
      else if (current === '' || current.startsWith('[anon')) otherAnon += Number(rss[1]) * 1024
    }
  } catch {
    /* no procfs */
  }
  return { brkHeap, otherAnon }
}
const gc = (globalThis as { gc?: () => void }).gc

export async function listenerMem (): Promise<ListenerMem> {
  if (gc === undefined) throw new Error('mem needs node --expose-gc')
  for (let i = 0; i < 4; i++) { gc(); await new Promise(resolve => setTimeout(resolve, 20)) }
  const m = process.memoryUsage()
  const spaces: Record<string, number> = {}
  for (const sp of getHeapSpaceStatistics()) spaces[sp.space_name] = sp.space_size
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    newSpace: spaces.new_space ?? 0,
    // Linux: RSS split into anonymous memory and pages of mapped files (node, libcrypto…) first
    // touched by the attack's code paths, which stay resident: not ours to give back
    ...statusRss(),
    ...smapsRss()
  }
}
