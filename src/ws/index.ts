/** `sluice/ws`: the WebSocket hub and the wire protocol it shares with the client. */
export * from './protocol.js';
export * from './protocol-parse.js';
export * from './close-codes.js';
export * from './hub.js';
export * from './hub-options.js';
export type * from './standard-schema.js';
export { checkSchema } from './standard-schema.js';
export {
  OUTBOUND_DEFAULTS,
  OVERFLOW_POLICIES,
  OutboundQueue,
  type OfferResult,
  type OutboundItem,
  type OutboundSink,
  type OutboundStats,
  type OverflowPolicy,
} from './outbound-queue.js';
export { TokenBucket, type TokenBucketOptions } from './rate-limit.js';
