// js-libp2p 3.x (a test peer only) calls Promise.withResolvers, which Node 20 lacks. The one shim
// (shared with the interop peer and the benchmark's js processes) is installed here for the tests,
// never in src/: switchyard itself runs on plain Node 20.
import '../interop/js/with-resolvers.js'
