import { WebSocket as WsWebSocket } from 'ws'

/**
 * @libp2p/websockets dials through the global WebSocket, which Node 20 lacks (Node 22 has it):
 * test-only polyfill with the `ws` package's client, which speaks the same EventTarget API. One
 * difference matters: `ws` emits a message that arrived together with the upgrade response right
 * after 'open', before @libp2p/websockets (a few awaits after 'open') has added its 'message'
 * listener, and such a message is lost. A listener that speaks first — go-libp2p's writes
 * `/multistream/1.0.0` as soon as it accepts — then fails the negotiation on our side. This
 * subclass keeps the messages that came before the first 'message' listener and hands them to it.
 */
class BufferingWebSocket extends WsWebSocket {
  constructor (...args: ConstructorParameters<typeof WsWebSocket>) {
    super(...args)
    let early: unknown[] | undefined = []
    this.on('message', (data: unknown) => { early?.push(data) })
    const add = this.addEventListener.bind(this) as (type: string, listener: unknown, options?: unknown) => void
    type Listener = ((event: unknown) => void) | { handleEvent: (event: unknown) => void }
    Object.defineProperty(this, 'addEventListener', {
      value: (type: string, listener: Listener, options?: unknown): void => {
        add(type, listener, options)
        if (type !== 'message' || early === undefined) return
        const queued = early
        early = undefined
        for (const data of queued) {
          const event = { type: 'message', data, target: this }
          if (typeof listener === 'function') listener(event)
          else listener.handleEvent(event)
        }
      }
    })
  }
}
if (globalThis.WebSocket === undefined) (globalThis as { WebSocket?: unknown }).WebSocket = BufferingWebSocket
