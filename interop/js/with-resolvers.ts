/**
 * Promise.withResolvers for Node 20, which lacks it; js-libp2p 3.x calls it. Imported first by
 * peer.ts (ESM evaluates imports in order, so this runs before any js-libp2p module). Test peer
 * only: switchyard's src/ runs on plain Node 20 and never needs it.
 */
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T> (): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    return { promise, resolve, reject }
  }
}

export {}
