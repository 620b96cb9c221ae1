/**
 * Event ids are opaque to clients but structured for brokers: `<epoch>:<position>`.
 * The epoch names one lifetime of a channel's history (a memory broker's process, a Redis
 * stream's generation), so a cursor from before a restart is recognised and answered with
 * a gap signal instead of being silently misread. Positions are ordered within a channel
 * by the broker that issued them. Neither part may contain CR, LF, NUL or `:`, so an id is
 * always safe as an SSE `id:` field.
 */
export interface EventCursor {
  epoch: string;
  position: string;
}

const PART = /^[A-Za-z0-9_.-]{1,64}$/;

export function formatEventId(cursor: EventCursor): string {
  if (!PART.test(cursor.epoch) || !PART.test(cursor.position)) {
    throw new RangeError(`Invalid event id parts: ${cursor.epoch}:${cursor.position}`);
  }
  return `${cursor.epoch}:${cursor.position}`;
}

/** Parses an id; `undefined` when it is not one of ours (the broker then signals a gap). */
export function parseEventId(id: string): EventCursor | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  const epoch = id.slice(0, colon);
  const position = id.slice(colon + 1);
  return PART.test(epoch) && PART.test(position) ? { epoch, position } : undefined;
}

/** A fresh epoch: time-based (sortable in logs) plus randomness (unique across processes). */
export function newEpoch(now = Date.now()): string {
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0');
  return `${now.toString(36)}${random}`;
}
