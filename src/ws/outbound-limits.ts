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
  /**
   * Bytes below the notice reserve that channel messages never use, kept for control
   * messages (`pong`, `ack`, `error`, presence): while a `disconnect` channel waits its grace
   * period for room, a client that is only momentarily behind still gets its replies instead
   * of being cut with 4008 by its next `ping`. What a client asks for beyond it still closes
   * with 4008, so the bound holds. The hub uses this; a bare queue reserves none by default.
   */
  controlReserve: 4096,
});

export interface OutboundQueueOptions {
  maxBytes?: number;
  socketHighWaterMark?: number;
  /** Encodes the `gap` notice announcing `count` dropped messages on `channel`. */
  encodeDropNotice: (channel: string, count: number) => Uint8Array;
  /** Bytes kept for control messages (see `OUTBOUND_DEFAULTS.controlReserve`); default 0. */
  controlReserve?: number;
}

/**
 * Options checked and resolved once: a hub resolves its options once and every connection's
 * queue shares the result, so a queue holds one reference instead of four fields.
 */
export class OutboundLimits {
  readonly maxBytes: number;
  /** What channel messages may use: `maxBytes` minus the notice and control reserves. */
  readonly limit: number;
  /** What control messages may use: `maxBytes` minus the notice reserve. */
  readonly controlLimit: number;
  readonly highWaterMark: number;
  readonly encodeDropNotice: (channel: string, count: number) => Uint8Array;

  constructor(options: OutboundQueueOptions) {
    this.maxBytes = options.maxBytes ?? OUTBOUND_DEFAULTS.maxBytes;
    const reserved = OUTBOUND_DEFAULTS.noticeReserve + (options.controlReserve ?? 0);
    if (!(this.maxBytes > reserved + OUTBOUND_DEFAULTS.frameOverhead)) {
      throw new RangeError(`maxBytes must exceed ${reserved} (the notice and control reserves)`);
    }
    this.controlLimit = this.maxBytes - OUTBOUND_DEFAULTS.noticeReserve;
    this.limit = this.maxBytes - reserved;
    this.highWaterMark = Math.min(
      options.socketHighWaterMark ?? OUTBOUND_DEFAULTS.socketHighWaterMark,
      this.maxBytes,
    );
    this.encodeDropNotice = options.encodeDropNotice;
    Object.freeze(this);
  }
}
