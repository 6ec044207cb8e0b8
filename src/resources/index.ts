/** Resource accounting (memory, streams, connections) at process, peer and connection scope. */
export { ResourceScope, standaloneConnectionScope } from './scope.js'
export type { MemoryAccount, ScopeKind, ScopeLimits, ScopeUsage, StreamDirection } from './scope.js'
export { ResourceManager, resourceConfig, DEFAULT_RESOURCE_CONFIG } from './manager.js'
export type { ResourceConfig, PartialResourceConfig, ResourcesView } from './manager.js'
