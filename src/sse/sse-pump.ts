/**
 * The one mechanism behind every SSE response: pull an event from the source only when the
 * sink has room, encode it, write it; keepalive comments while the source is quiet; a
 * stall timer while the sink is full; and a single teardown that clears both timers,
 * removes the abort listeners and calls `return()` on the source.
 *
 * Two sinks drive it: a Web `ReadableStream` (any runtime, see response.ts) and, in the
 * Node adapter, the `ServerResponse` itself, which skips the Web stream layer (its promise
 * per chunk was most of sluice's cost over a raw `res.write` loop in the fan-out benchmark).
 */
import { SluiceError } from '../core/errors.js';
import { isPollable, type PollableIterator } from '../core/pollable.js';
import { encodeComment, encodeEvent, encodeRetry, type SseFields } from './encoder.js';

/** An event to send: fields to encode, or bytes already encoded (shared across clients). */
export type SseChunk = SseFields | Uint8Array;

export type SseCloseReason = 'end' | 'cancel' | 'abort' | 'stall' | 'error';

/** Where the bytes go. `write` returns false when the sink is full; `ready` resolves on room. */
export interface SseSink {
  write(bytes: Uint8Array): boolean;
  /**
   * Optional: writes SSE text the sink encodes itself. A Node socket takes a string and
   * encodes it in native code straight into the write, so an event encoded for one client
   * costs no Buffer at all; without it the pump encodes to bytes and calls `write`.
   */
  writeText?(text: string): boolean;
  ready(): Promise<void>;
  /**
   * The stream ended normally (source done, or aborted by a signal). `last` is SSE text
   * still to send first: a sink may send it with the end of the body in one write.
   */
  end(last?: string): void;
  /** The stream broke: the client should see an error, not a clean end. */
  fail(error: unknown): void;
}

export interface SsePumpOptions {
  retry: number | null;
  /** An event sent with the opening bytes (SSE text), before anything from the source. */
  opening?: string | undefined;
  keepAlive: number | null;
  stallTimeout: number | null;
  signals: AbortSignal[];
  onClose?: ((reason: SseCloseReason, error?: unknown) => void) | undefined;
}

const encoder = new TextEncoder();
/** A drain's batch is written once it holds this many UTF-16 units (bounds its memory). */
const BATCH_LIMIT = 16 * 1024;
/** Node's Buffer where there is one (see `encodeUtf8`). */
const NodeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: 'utf8'): Uint8Array } })
  .Buffer;

/**
 * UTF-8 bytes of `text`. On Node these are a `Buffer` (a Uint8Array subclass): Node's
 * sockets take Buffers as they are but wrap every other Uint8Array in a new Buffer on each
 * write, which on the fan-out path is one allocation per delivery. Elsewhere TextEncoder.
 */
export function encodeUtf8(text: string): Uint8Array {
  return NodeBuffer ? NodeBuffer.from(text, 'utf8') : encoder.encode(text);
}

export function encodeChunk(chunk: SseChunk): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : encodeUtf8(encodeEvent(chunk));
}

/** Drives `iterator` into `sink` until the source ends, the signal aborts or `cancel()`. */
export class SsePump<T = SseChunk> {
  readonly #iterator: AsyncIterator<T>;
  readonly #map: ((item: T) => SseChunk) | undefined;
  readonly #sink: SseSink;
  readonly #options: SsePumpOptions;
  /** Aborts the signal handed to a source function, if the source is one (at the end). */
  readonly #done: Pick<AbortController, 'abort'> | undefined;
  #keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #full = false;
  #finished = false;
  #draining = false;
  /** SSE text not yet written: sent in one write at the end of the tick (see `#flushSoon`). */
  #batch = '';
  #flushQueued = false;
  /** The sink's `ready()`, taken when a write found it full (see `#afterWrite`). */
  #room: Promise<void> | undefined;
  /** The polling path's source and its drain (see `#runPolling`). */
  #polled: PollableIterator<T> | undefined;
  #drain: (() => void) | undefined;
  #onFinished: (() => void) | undefined;

  constructor(
    iterator: AsyncIterator<T>,
    sink: SseSink,
    options: SsePumpOptions & {
      done?: Pick<AbortController, 'abort'> | undefined;
      map?: ((item: T) => SseChunk) | undefined;
    },
  ) {
    this.#iterator = iterator;
    this.#map = options.map;
    this.#sink = sink;
    this.#options = options;
    this.#done = options.done;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Runs to the end; never rejects (failures go to the sink and `onClose`). */
  async run(): Promise<void> {
    const { signals, retry, keepAlive } = this.#options;
    if (signals.some((s) => s.aborted)) return this.#abort();
    for (const signal of signals) signal.addEventListener('abort', this.#abort, { once: true });
    // The first bytes go out in this tick, so proxies and clients see the stream open; an
    // event that is ready in the same tick (an LLM's first token) shares their write.
    this.#batch = retry !== null ? encodeRetry(retry) : encodeComment('ok');
    if (this.#options.opening !== undefined) this.#batch += this.#options.opening;
    this.#flushSoon();
    if (keepAlive !== null) {
      this.#keepAliveTimer = setInterval(() => {
        // A full sink gets no keepalives: they would only grow its buffer.
        if (!this.#full) this.#write(encodeUtf8(encodeComment()));
      }, keepAlive);
      unref(this.#keepAliveTimer);
    }
    if (isPollable(this.#iterator)) return this.#runPolling(this.#iterator);
    while (!this.#finished) {
      if (this.#full) {
        await this.#room; // `#roomBack` has run by then (its callback was attached first)
        continue;
      }
      let result: IteratorResult<T>;
      try {
        result = await this.#iterator.next();
      } catch (error) {
        return this.#failWith(error);
      }
      if (this.#finished) return;
      if (result.done) return this.#end();
      if (!this.#deliver(result.value)) return;
    }
  }

  /**
   * The synchronous path (core/pollable.ts): items that are ready are encoded at once, from
   * inside the producer's call, until the source runs dry or the sink is full; then the pump
   * waits for the source's "readable" call or for the sink's room. No promise per item.
   * What the drains of one tick encode goes out in one write (`#flushSoon`): the tokens of
   * one upstream read, or an LLM generation's finish chunk, `[DONE]` and the end of the
   * body, leave in one packet instead of one each.
   */
  #runPolling(source: PollableIterator<T>): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#onFinished = () => {
        source.onReadable(undefined);
        resolve();
      };
      const drain = (): void => {
        if (this.#draining) return;
        this.#draining = true;
        try {
          while (!this.#finished && !this.#full) {
            const result = source.poll();
            if (result === undefined) break;
            if ('error' in result) return this.#failWith(result.error);
            if (result.done) return this.#end();
            if (!this.#deliver(result.value)) return;
          }
        } finally {
          this.#draining = false;
        }
        this.#flushSoon();
      };
      this.#polled = source;
      this.#drain = drain;
      source.onReadable(drain);
      drain();
    });
  }

  /**
   * The full sink has room again (`ready`, taken when it filled, settled): the stall timer
   * stops and keepalives may go out, whichever path is waiting, even a loop still parked in
   * `next()` on a quiet source; the polling path resumes polling.
   */
  #roomBack(ready: Promise<void>): void {
    if (this.#finished || this.#room !== ready) return;
    this.#roomAgain();
    const source = this.#polled;
    if (source) {
      source.onReadable(this.#drain);
      this.#drain!();
    }
  }

  /** Encodes and writes one item; false when encoding failed (the stream is then failed). */
  #deliver(value: T): boolean {
    let chunk: SseChunk;
    let text: string | undefined;
    try {
      // Without `map`, the source yields events itself (the option's documented contract).
      chunk = this.#map ? this.#map(value) : (value as SseChunk);
      if (!(chunk instanceof Uint8Array)) text = encodeEvent(chunk);
    } catch (error) {
      this.#failWith(error);
      return false;
    }
    if (text === undefined) {
      this.#write(chunk as Uint8Array);
    } else if (this.#draining) {
      this.#batch += text;
      if (this.#batch.length >= BATCH_LIMIT) this.#flushBatch();
    } else {
      // The await-per-item path writes at once, with anything still pending ahead of it.
      this.#batch += text;
      this.#flushBatch();
    }
    return true;
  }

  /**
   * Writes the pending text at the end of the current tick, with `process.nextTick` (a
   * microtask elsewhere). Scheduled from a promise job, that is after the promise jobs queued
   * behind it, so what a producer publishes across several awaits shares a write (an LLM
   * generation's finish chunk, `[DONE]` and the end); scheduled from an I/O callback, it runs
   * before that callback's promise jobs, which then write on their own. The batch stays
   * bounded: past BATCH_LIMIT it is written at once.
   */
  #flushSoon(): void {
    if (this.#flushQueued || this.#batch === '') return;
    this.#flushQueued = true;
    defer(SsePump.#deferredFlush, this);
  }

  /** Shared by every pump (the pump is the argument): no closure held per stream. */
  static #deferredFlush<U>(pump: SsePump<U>): void {
    pump.#flushQueued = false;
    if (pump.#finished) return;
    pump.#flushBatch();
  }

  #flushBatch(): void {
    if (this.#batch === '') return;
    const text = this.#batch;
    this.#batch = '';
    this.#writeText(text);
  }

  #writeText(text: string): void {
    const sink = this.#sink;
    this.#afterWrite(sink.writeText ? sink.writeText(text) : sink.write(encodeUtf8(text)));
  }

  #roomAgain(): void {
    this.#full = false;
    this.#room = undefined;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #end(): void {
    this.#close('end');
  }

  #failWith(error: unknown): void {
    this.#close('error', error);
  }

  /** The client went away (the body was cancelled, the socket closed). */
  cancel(reason?: unknown): void {
    this.#close('cancel', reason);
  }

  #write(bytes: Uint8Array): void {
    this.#flushBatch(); // text still pending goes first: order is kept
    this.#afterWrite(this.#sink.write(bytes));
  }

  /**
   * After a write: a full sink stops the pulling and starts the stall timer. Its `ready()` is
   * taken here, once per time it fills, not when someone first waits: a write deferred to the
   * end of a tick, or a keepalive, can find the sink full while the await-per-item loop is
   * parked in `next()`, and the sink's one "drain" may come before that loop looks again.
   */
  #afterWrite(room: boolean): void {
    if (room || this.#full) return;
    this.#full = true;
    const ready = this.#sink.ready();
    this.#room = ready;
    this.#polled?.onReadable(undefined);
    void ready.then(() => this.#roomBack(ready));
    const stallTimeout = this.#options.stallTimeout;
    if (stallTimeout === null) return;
    this.#stallTimer = setTimeout(() => {
      const error = new SluiceError('slow_consumer', 'SSE client stopped reading', {
        details: { stallTimeout },
      });
      this.#close('stall', error);
    }, stallTimeout);
    unref(this.#stallTimer);
  }

  readonly #abort = (): void => {
    this.#close('abort');
  };

  /**
   * Every way a stream ends, once, in this order: the pump's own teardown, then the sink
   * (the end of the body, with the drain's last events, or a failure), then the user's hook.
   */
  #close(reason: SseCloseReason, error?: unknown): void {
    if (this.#finished) return;
    // What was encoded before a failure still goes out, ahead of the broken end.
    if (reason === 'error') this.#flushBatch();
    const last = this.#batch;
    this.#batch = '';
    this.#finish(reason, error);
    if (reason === 'end' || reason === 'abort') this.#sink.end(last === '' ? undefined : last);
    else if (reason !== 'cancel') this.#sink.fail(error);
    this.#closed(reason, error);
  }

  /** Timers, abort listeners and the source released (see `#close`). */
  #finish(reason: SseCloseReason, error?: unknown): void {
    this.#finished = true;
    clearInterval(this.#keepAliveTimer);
    clearTimeout(this.#stallTimer);
    for (const signal of this.#options.signals) signal.removeEventListener('abort', this.#abort);
    this.#done?.abort(error ?? endedReason(reason));
    if (reason !== 'end') {
      // The source did not finish by itself, or failed, or the pump failed the stream (an
      // item that could not be encoded): release it either way; return() after a source's
      // own failure is harmless. A pending next() is woken by the source's own signal
      // (`context.signal`), which `done` just aborted.
      releaseSource(this.#iterator);
    }
    this.#onFinished?.();
  }

  /**
   * The user's `onClose`, called last: after the sink has its end, so a hook that throws
   * can neither leave the response open nor reach whoever called into the pump (a broker
   * publishing to every subscriber, an abort listener, a timer). Its exception is logged
   * (see `reportHookError`).
   */
  #closed(reason: SseCloseReason, error?: unknown): void {
    const onClose = this.#options.onClose;
    if (!onClose) return;
    try {
      onClose(reason, error);
    } catch (thrown) {
      reportHookError(thrown);
    }
  }
}

/**
 * Calls the source's `return()`, its cleanup. Run from the teardown (an abort listener, the
 * stall timer, a broker's publish): a `return()` that throws, or that returns no promise (a
 * hand-written iterator), must neither escape there (uncaught, it ends the process) nor stop
 * the teardown before the sink and `onClose` have their turn.
 */
function releaseSource(iterator: AsyncIterator<unknown>): void {
  try {
    // Promise.resolve() is the promise itself when it is one (no extra cost on that path).
    Promise.resolve(iterator.return?.()).catch(() => undefined);
  } catch {
    // The source is gone either way; its own failure to clean up is not this stream's.
  }
}

/**
 * The abort reason of a stream that ended without an error, one per close reason: every
 * stream ends, and an error (with its stack) per stream was a visible share of a short
 * stream's cost.
 */
const ENDED_REASONS = new Map<SseCloseReason, SluiceError>();
function endedReason(reason: SseCloseReason): SluiceError {
  let error = ENDED_REASONS.get(reason);
  if (!error) {
    error = new SluiceError('aborted', `SSE stream ended (${reason})`);
    ENDED_REASONS.set(reason, error);
  }
  return error;
}

/**
 * Logged, not rethrown and not handed to `reportError`: where a runtime has that (Deno), an
 * unhandled report ends the process, and one stream's hook must not end everyone's.
 */
function reportHookError(error: unknown): void {
  console.error('sluice: an SSE onClose hook threw', error);
}

/** Runs `task(pump)` at the end of the current tick (see `SsePump.#flushSoon`). */
const nodeProcess = (
  globalThis as {
    process?: { nextTick?: <A>(task: (arg: A) => void, arg: A) => void };
  }
).process;
function defer<A>(task: (arg: A) => void, arg: A): void {
  if (nodeProcess?.nextTick) nodeProcess.nextTick(task, arg);
  else queueMicrotask(() => task(arg));
}

export function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
    (timer as { unref(): void }).unref();
  }
}
