/**
 * Stream ids (RFC 9000 §2.1): the two low bits say who opened the stream and in which directions.
 *
 *   0x0 client-initiated bidirectional    0x1 server-initiated bidirectional
 *   0x2 client-initiated unidirectional   0x3 server-initiated unidirectional
 *
 * The n-th stream of a type (n from 0) has id 4n + type; MAX_STREAMS counts n + 1.
 */
export function isClientInitiated (id: number): boolean { return id % 2 === 0 }
export function isBidirectional (id: number): boolean { return (id & 0x2) === 0 }
export function initiatorOf (id: number): 'client' | 'server' { return isClientInitiated(id) ? 'client' : 'server' }
/** The 0-based index of the stream among streams of its type. */
export function streamIndex (id: number): number { return Math.floor(id / 4) }
/** The id of the `index`-th stream opened by `role` of the given directionality. */
export function streamIdFor (role: 'client' | 'server', bidi: boolean, index: number): number {
  return index * 4 + (bidi ? 0 : 2) + (role === 'client' ? 0 : 1)
}
/** Can `role` send on stream `id`? (A receive-only unidirectional stream cannot be written.) */
export function canSend (role: 'client' | 'server', id: number): boolean {
  return isBidirectional(id) || initiatorOf(id) === role
}
/** Can `role` receive on stream `id`? */
export function canReceive (role: 'client' | 'server', id: number): boolean {
  return isBidirectional(id) || initiatorOf(id) !== role
}
