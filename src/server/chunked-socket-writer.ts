/**
 * Writes an HTTP/1.1 chunked response body straight to its socket, one prebuilt chunk per
 * write, for the SSE fan-out path.
 *
 * Why: `res.write(bytes)` on a chunked `ServerResponse` builds the chunk-size line as a new
 * string, corks the socket, queues three pieces and uncorks on the next tick into a
 * `writev`: per delivery, on a path that delivers the same event to thousands of clients.
 * Framing each event once (the same bytes go to every subscriber, so the frame is built for
 * the first and reused for the rest) and handing the socket one Buffer costs measurably
 * less CPU per delivery (docs/benchmarks.md, SSE fan-out).
 *
 * It is used only where Node itself would frame the body the same way: HTTP/1.1, chunked
 * encoding chosen, headers already handed to the socket (by the first `res.write()`, which
 * sends them and the first event in one packet), and the socket assigned to this response
 * (a pipelined response waiting its turn has none). The end of the body is left to
 * `res.end()`, which writes the terminating `0\r\n\r\n` after everything written here (the
 * response buffers nothing of its own once its headers are flushed), so the connection
 * stays reusable. Anything else falls back to `res.write`.
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';

const CRLF = 0x0d0a;

/**
 * The last body framed and its frame: a one-entry cache that a fan-out hits for every
 * subscriber after the first, all inside one synchronous publish. It is forgotten at the
 * next microtask, so a source that yields the same buffer again after changing it (any
 * new value reaches the pump through a later promise job) is framed afresh.
 */
let lastBody: Uint8Array | undefined;
let lastFrame: Buffer | undefined;
const forget = (): void => {
  lastBody = undefined;
  lastFrame = undefined;
};

/** `size-in-hex CRLF body CRLF`, the HTTP/1.1 chunk carrying `body` (never empty). */
export function chunkFrame(body: Uint8Array): Buffer {
  if (body === lastBody && lastFrame) return lastFrame;
  if (lastBody === undefined) queueMicrotask(forget);
  const size = body.byteLength.toString(16);
  const frame = Buffer.allocUnsafe(size.length + body.byteLength + 4);
  let offset = frame.write(size, 0, 'latin1');
  offset = frame.writeUInt16BE(CRLF, offset);
  frame.set(body, offset);
  frame.writeUInt16BE(CRLF, offset + body.byteLength);
  lastBody = body;
  lastFrame = frame;
  return frame;
}

export interface ChunkedSocketWriter {
  /** Writes `body` as one chunk; false when the socket's buffer is full (wait for `ready`). */
  write(body: Uint8Array): boolean;
  /**
   * Writes `text` as one chunk of its UTF-8 bytes. The frame goes to the socket as a string,
   * which Node encodes in native code straight into the write: no Buffer for an event that
   * only this client receives (the LLM path). Shared events use `write` and the frame cache.
   */
  writeText(text: string): boolean;
  /**
   * `writeText(text)`, then `then()` (the response's `end()`, which writes the body's
   * terminator), with the socket corked so that both leave in one write.
   */
  writeTextThen(text: string, then: () => void): void;
  /** Resolves when the socket drained, or closed. */
  ready(): Promise<void>;
}

/**
 * A writer for `res`'s body when its chunks can go straight to the socket, else undefined.
 * Call once the headers are on their way (after `flushHeaders()` or a first `res.write()`).
 */
export function chunkedSocketWriter(res: ServerResponse): ChunkedSocketWriter | undefined {
  const socket: Socket | null = res.socket;
  if (
    !socket ||
    socket.destroyed ||
    !res.headersSent ||
    !res.chunkedEncoding ||
    res.writableEnded ||
    // Something of this response is still queued in it (e.g. headers not yet on the wire).
    res.writableLength > socket.writableLength
  ) {
    return undefined;
  }
  return new SocketChunkWriter(socket);
}

/** A class, not an object of closures: one is held for the life of every SSE stream. */
class SocketChunkWriter implements ChunkedSocketWriter {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  write(body: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true; // 'close' ends the stream; nothing to wait for
    // An empty chunk would be the body's terminator: there is nothing to send.
    if (body.byteLength === 0) return true;
    return socket.write(chunkFrame(body));
  }

  writeText(text: string): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    if (text.length === 0) return true;
    return socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
  }

  writeTextThen(text: string, then: () => void): void {
    const socket = this.#socket;
    socket.cork();
    try {
      this.writeText(text);
      then();
    } finally {
      socket.uncork();
    }
  }

  ready(): Promise<void> {
    return this.#socket.destroyed ? Promise.resolve() : drainedOrClosed(this.#socket);
  }
}

/** Resolves on the emitter's next 'drain' or 'close', whichever comes first. */
export function drainedOrClosed(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      emitter.off('drain', done);
      emitter.off('close', done);
      resolve();
    };
    emitter.once('drain', done);
    emitter.once('close', done);
  });
}
