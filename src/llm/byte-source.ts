/**
 * A pull source of body bytes that can be read synchronously: `read()` hands out what has
 * already arrived, and `wait()` asks to be called back once more may be there. The stream
 * reader polls it, so bytes already received turn into events without a promise, and
 * what is held unread is bounded (backpressure reaches the socket).
 *
 * Two implementations: a Node `IncomingMessage` in flowing mode (the upstream request on
 * Node: each 'data' chunk is held until `read()` takes it; past `NODE_HELD_BYTES` the
 * response is paused, so its socket is no longer read), and any Web `ReadableStream` (an
 * injected `fetch`, other runtimes): there a `read()` with nothing buffered starts one
 * `reader.read()`, whose result the next `read()` hands out.
 */
import type { IncomingMessage } from 'node:http';
import { SluiceError } from '../core/errors.js';

/** Returned by `read()` once the body ended normally. */
export const END: unique symbol = Symbol('end');

export const BYTE_SOURCE_DEFAULTS = Object.freeze({
  /**
   * After `[DONE]`, how long the rest of the body (usually just the chunked terminator) may
   * take to arrive so that the keep-alive connection can be reused; then it is closed, ms.
   */
  finishGraceMs: 1_000,
});

/**
 * Bytes a Node source holds unread before it pauses the response. Flowing mode rather than
 * paused mode ('readable' + `read()`): a chunk reaches the reader inside the socket's read
 * callback, without the `nextTick` hop and the buffer bookkeeping of a paused stream, which
 * at one chunk per token were a visible share of a proxied token's cost.
 */
const NODE_HELD_BYTES = 64 * 1024;

export interface ByteSource {
  /** Bytes received and not yet read; null when none are; `END` at the end. Throws on failure. */
  read(): Uint8Array | null | typeof END;
  /** Calls `listener` once, when `read()` may return something else than null. */
  wait(listener: () => void): void;
  /** Stops the body now: the connection is closed unless the body was complete. */
  cancel(reason?: unknown): void;
  /**
   * The answer is complete (`[DONE]`) though the body may not have ended yet: the rest is
   * discarded, and the connection kept for reuse if the body ends soon.
   */
  finish(): void;
}

function truncated(cause?: unknown): SluiceError {
  return new SluiceError('llm_upstream_truncated', 'The upstream connection closed mid-stream', {
    status: 502,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A Node response body in flowing mode, its chunks held (bounded) until read. */
export class NodeByteSource implements ByteSource {
  readonly #message: IncomingMessage;
  #listener: (() => void) | undefined;
  #failure: Error | undefined;
  #cancelled = false;
  /** Chunks received and not yet read, and their total size. */
  #held: Buffer[] = [];
  #heldBytes = 0;

  constructor(message: IncomingMessage) {
    this.#message = message;
    message.on('data', this.#onData);
    message.on('end', this.#notify);
    message.on('error', this.#onError);
    message.on('close', this.#onClose);
  }

  read(): Uint8Array | null | typeof END {
    if (this.#failure !== undefined) throw this.#failure;
    const message = this.#message;
    const held = this.#held;
    if (held.length !== 0) {
      const chunk = held.length === 1 ? held[0]! : Buffer.concat(held, this.#heldBytes);
      this.#held = [];
      this.#heldBytes = 0;
      if (message.isPaused()) message.resume();
      return chunk;
    }
    // `complete` is set once the parser saw the body's end, after its last bytes were pushed;
    // bytes still buffered in the message (while it was paused) come first.
    return message.complete && message.readableLength === 0 ? END : null;
  }

  wait(listener: () => void): void {
    this.#listener = listener;
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#detach();
    const message = this.#message;
    if (message.complete && this.#failure === undefined) {
      // Everything arrived (the usual case after `[DONE]`): consume it so the response
      // ends and its keep-alive socket goes back to the pool.
      message.resume();
    } else {
      // A generation stopped early: closing the socket is what stops the upstream model.
      message.destroy();
    }
  }

  /** Stops delivering to the reader; what is held is dropped. */
  #detach(): void {
    this.#listener = undefined;
    this.#held = [];
    this.#heldBytes = 0;
    const message = this.#message;
    message.off('data', this.#onData);
    message.off('end', this.#notify);
    message.off('close', this.#onClose);
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes >= NODE_HELD_BYTES) this.#message.pause();
    this.#notify();
  };

  readonly #notify = (): void => {
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  };

  finish(): void {
    if (this.#cancelled) return;
    const message = this.#message;
    if (message.complete || this.#failure !== undefined) return this.cancel();
    this.#cancelled = true;
    this.#detach();
    const timer = setTimeout(() => message.destroy(), BYTE_SOURCE_DEFAULTS.finishGraceMs);
    timer.unref();
    message.once('close', () => clearTimeout(timer));
    message.resume();
  }

  readonly #onError = (error: Error): void => {
    if (this.#cancelled) return;
    this.#failure ??= this.#message.complete ? error : truncated(error);
    this.#notify();
  };

  readonly #onClose = (): void => {
    if (this.#cancelled || this.#message.complete) return this.#notify();
    this.#failure ??= truncated();
    this.#notify();
  };
}

/** A Web body: one `reader.read()` at a time, started by a `read()` that found nothing. */
export class WebByteSource implements ByteSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #ready: Uint8Array | typeof END | undefined;
  #failure: Error | undefined;
  #pending = false;
  #released = false;
  #listener: (() => void) | undefined;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  read(): Uint8Array | null | typeof END {
    if (this.#failure !== undefined) throw this.#failure;
    const ready = this.#ready;
    if (ready !== undefined) {
      if (ready !== END) this.#ready = undefined;
      return ready;
    }
    if (!this.#pending && !this.#released) this.#start();
    return null;
  }

  wait(listener: () => void): void {
    this.#listener = listener;
  }

  cancel(reason?: unknown): void {
    if (this.#released) return;
    this.#released = true;
    this.#listener = undefined;
    // A pending read settles once cancelled; the lock goes when it has.
    this.#reader.cancel(reason).then(
      () => this.#reader.releaseLock(),
      () => undefined,
    );
  }

  finish(): void {
    this.cancel();
  }

  #start(): void {
    this.#pending = true;
    this.#reader.read().then(
      (result) => {
        this.#pending = false;
        if (this.#released) return;
        if (result.done) this.#ready = END;
        else this.#ready = result.value;
        this.#notify();
      },
      (error: unknown) => {
        this.#pending = false;
        if (this.#released) return;
        this.#failure = error instanceof Error ? error : new Error(String(error));
        this.#notify();
      },
    );
  }

  #notify(): void {
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}
