/**
 * The outbound queue's limits (outbound-queue.ts): defaults, options, and their resolved
 * form, which a hub computes once per wire format and every connection's queue shares.
 */

export const OUTBOUND_DEFAULTS = Object.freeze({
  maxBytes: 1024 * 1024,
  socketHighWaterMark: 64 * 1024,
  /** Counted per frame on top of its payload: the largest WebSocket frame header. */
  frameOverhead: 14,
  /**
   * Bytes of `maxBytes` that messages never use, kept for drop notices (a notice names a
   * channel of at most 128 characters and a count: always smaller than this).
   */
  noticeReserve: 256,
});

export interface OutboundQueueOptions {
  maxBytes?: number;
  socketHighWaterMark?: number;
  /** Encodes the `gap` notice announcing `count` dropped messages on `channel`. */
  encodeDropNotice: (channel: string, count: number) => Uint8Array;
}

/**
 * Options checked and resolved once: a hub resolves its options once and every connection's
 * queue shares the result, so a queue holds one reference instead of four fields.
 */
export class OutboundLimits {
  readonly maxBytes: number;
  /** What messages may use: `maxBytes` minus the notice reserve. */
  readonly limit: number;
  readonly highWaterMark: number;
  readonly encodeDropNotice: (channel: string, count: number) => Uint8Array;

  constructor(options: OutboundQueueOptions) {
    this.maxBytes = options.maxBytes ?? OUTBOUND_DEFAULTS.maxBytes;
    if (!(this.maxBytes > OUTBOUND_DEFAULTS.noticeReserve + OUTBOUND_DEFAULTS.frameOverhead)) {
      throw new RangeError(
        `maxBytes must exceed ${OUTBOUND_DEFAULTS.noticeReserve} (the notice reserve)`,
      );
    }
    this.limit = this.maxBytes - OUTBOUND_DEFAULTS.noticeReserve;
    this.highWaterMark = Math.min(
      options.socketHighWaterMark ?? OUTBOUND_DEFAULTS.socketHighWaterMark,
      this.maxBytes,
    );
    this.encodeDropNotice = options.encodeDropNotice;
    Object.freeze(this);
  }
}
