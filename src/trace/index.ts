/**
 * `switchyard/trace`: what `--trace` uses — the Tracer (hands each connection an observer, stamps
 * connection and time), the text and JSON Lines formatters, the dissectors that read multistream and
 * stream messages from bytes (identify decoded field by field), and the key log.
 */
export { Tracer } from './tracer.js'
export type { TraceSink, TracerOptions, ConnectionInfo } from './tracer.js'
export type { TextFormatOptions } from './format-text.js'
export { TextFormatter, TextTraceSink, formatIdentify, formatPayload, formatYamuxFrame, hexDump } from './format-text.js'
export { JsonlTraceSink, formatJsonl, parseJsonl, recordToJson } from './format-jsonl.js'
export { MultistreamDissector, MessageDissector, streamDissector, RAW_PROTOCOLS } from './dissect.js'
export type { Dissector, StreamScope } from './dissect.js'
export { describeIdentify, IDENTIFY_PROTOCOLS } from './identify.js'
export type { TraceObserver, TraceEvent, TraceRecord, TraceDirection, TraceLayer, IdentifyInfo, NoisePayloadInfo } from './observer.js'
export { KeyLog, KeyLogWriter, parseKeyLog } from './keylog.js'
