/**
 * The head of an HTTP response read off a bare TCP socket, for the client-load processes
 * (which skip an HTTP parser to stay cheap): collects the first chunks until the blank line,
 * then hands over the status and the body bytes that came with it.
 */
const HEADER_END = Buffer.from('\r\n\r\n');

export interface Head {
  /** The head's bytes, without the blank line. */
  head: Buffer;
  /** What followed the blank line in the same chunks. */
  body: Buffer;
}

export class ResponseHead {
  #bytes: Buffer | null = Buffer.alloc(0);

  /** True once the head is complete: every later chunk is body. */
  get done(): boolean {
    return this.#bytes === null;
  }

  /** Adds a chunk; the head and the body so far once the blank line arrived, else null. */
  feed(chunk: Buffer): Head | null {
    if (this.#bytes === null) return { head: Buffer.alloc(0), body: chunk };
    const bytes = Buffer.concat([this.#bytes, chunk]);
    const end = bytes.indexOf(HEADER_END);
    if (end < 0) {
      this.#bytes = bytes;
      return null;
    }
    this.#bytes = null;
    return { head: bytes.subarray(0, end), body: bytes.subarray(end + HEADER_END.length) };
  }
}

/** Whether the status line (`HTTP/1.1 200 ...`) carries `code`. */
export function hasStatus(head: Buffer, code: number): boolean {
  return head.subarray(0, 12).toString('latin1').endsWith(` ${code}`);
}
