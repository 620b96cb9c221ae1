/**
 * The offline queue of a ReconnectingWebSocket: messages passed to `send()` while the
 * connection is down, flushed in order when the next connection opens.
 *
 * Bounded by count and by bytes. Overflow policy: **reject-newest**. A message that would
 * exceed either limit is refused (`push` returns false) and the queue is left untouched.
 * Dropping the oldest instead would silently rewrite history the caller already believes
 * is on its way; refusing the newest tells the caller at the moment of the call, which is
 * the only point where it can still react (retry later, show "offline", drop it).
 */

/** What `send()` accepts: the WebSocket `send` argument types. */
export type SocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

export interface SendQueueLimits {
  /** Most messages held; `null` = no count limit; 0 = no queue at all. */
  maxMessages: number | null;
  /** Most bytes held (UTF-8 for strings); `null` = no byte limit. */
  maxBytes: number | null;
}

export class SendQueue {
  readonly #limits: SendQueueLimits;
  #items: SocketData[] = [];
  #bytes = 0;

  constructor(limits: SendQueueLimits) {
    this.#limits = limits;
  }

  get length(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a message; false when a limit would be exceeded (reject-newest). */
  push(data: SocketData): boolean {
    const size = byteSize(data);
    const { maxMessages, maxBytes } = this.#limits;
    if (maxMessages !== null && this.#items.length + 1 > maxMessages) return false;
    if (maxBytes !== null && this.#bytes + size > maxBytes) return false;
    this.#items.push(data);
    this.#bytes += size;
    return true;
  }

  /** Removes and returns everything, oldest first. */
  drain(): SocketData[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }

  clear(): void {
    this.#items = [];
    this.#bytes = 0;
  }
}

/** Bytes a message occupies on the wire (payload only, no framing). */
export function byteSize(data: SocketData): number {
  if (typeof data === 'string') return utf8Length(data);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return (data as ArrayBufferLike | ArrayBufferView).byteLength;
}

/** UTF-8 length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3; // lone high surrogate: encoded as U+FFFD
    } else bytes += 3;
  }
  return bytes;
}
