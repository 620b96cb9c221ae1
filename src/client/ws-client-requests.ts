/**
 * Request/reply over the socket for `publish` and `presence` queries: a request id (`rid`)
 * per call, a reply or a typed error, and a timeout that includes time spent offline.
 *
 * At most `maxInFlight` requests are on the wire unanswered (flow control: a burst of calls
 * cannot flood the socket buffer); the rest, and everything while disconnected, wait in a
 * bounded outbox (reject-newest: the call fails at once with `buffer_overflow`) and go out
 * in call order as replies come back or after the next open. A request
 * that times out or is aborted before it was sent is withdrawn, so it is guaranteed not to
 * take effect. One that was sent and then lost its connection fails with
 * `ws_connection_lost` (`details.sent: true`): its outcome is unknown, and it is not resent
 * automatically, because resending a publish could duplicate it.
 */
import { SluiceError, abortReason } from '../core/errors.js';
import type {
  AckMessage,
  ClientMessage,
  ErrorMessage,
  PresenceStateMessage,
  RequestId,
} from '../ws/protocol.js';
import { startTimer, type Timer } from './reconnecting-websocket-timers.js';
import { serverError } from './ws-client-decode.js';

export type Reply = AckMessage | PresenceStateMessage;

interface Pending {
  message: ClientMessage;
  sent: boolean;
  resolve(reply: Reply): void;
  reject(error: unknown): void;
  timer: Timer;
  cleanup(): void;
}

export interface RequestsInit {
  /** Most requests waiting to be sent. */
  maxPending: number;
  /** Most requests sent and not yet answered. */
  maxInFlight: number;
  timeout: number;
  nextRid(): number;
  /** Sends a message if the connection is open; false when it is not. */
  send(message: ClientMessage): boolean;
}

export class Requests {
  readonly #init: RequestsInit;
  readonly #pending = new Map<RequestId, Pending>();
  /** Unsent requests in call order (a Set: ordered, O(1) removal on timeout or abort). */
  readonly #outbox = new Set<RequestId>();
  #inFlight = 0;

  constructor(init: RequestsInit) {
    this.#init = init;
  }

  get size(): number {
    return this.#pending.size;
  }

  request(
    message: ClientMessage,
    options: { signal?: AbortSignal | undefined; timeout?: number | undefined } = {},
  ): Promise<Reply> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(asError(abortReason(signal)));
    if (this.#outbox.size >= this.#init.maxPending) {
      return Promise.reject(
        new SluiceError('buffer_overflow', 'Too many requests waiting to be sent', {
          details: { limit: this.#init.maxPending },
        }),
      );
    }
    const rid = this.#init.nextRid();
    const withRid = { ...message, rid } as ClientMessage;
    const promise = new Promise<Reply>((resolve, reject) => {
      const onAbort = (): void => this.#fail(rid, abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(rid, {
        message: withRid,
        sent: false,
        resolve,
        reject,
        timer: startTimer(
          () =>
            this.#fail(
              rid,
              new SluiceError('ws_ack_timeout', `No reply to "${message.type}" in time`, {
                details: { sent: this.#pending.get(rid)?.sent ?? false },
              }),
            ),
          options.timeout ?? this.#init.timeout,
        ),
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
    });
    this.#outbox.add(rid);
    this.flush();
    return promise;
  }

  /** Sends waiting requests, oldest first, while connected and the window has room. */
  flush(): void {
    for (const rid of this.#outbox) {
      if (this.#inFlight >= this.#init.maxInFlight) return;
      const pending = this.#pending.get(rid);
      if (pending && !this.#init.send(pending.message)) return;
      this.#outbox.delete(rid);
      if (!pending) continue;
      pending.sent = true;
      this.#inFlight++;
    }
  }

  /** True when the rid belonged to a request here. */
  reply(rid: RequestId, reply: Reply | ErrorMessage): boolean {
    const pending = this.#take(rid);
    if (!pending) return false;
    if (reply.type === 'error') pending.reject(serverError(reply));
    else pending.resolve(reply);
    this.flush();
    return true;
  }

  /** The connection closed: sent requests can never be answered on it. */
  connectionLost(): void {
    for (const [rid, pending] of this.#pending) {
      if (!pending.sent) continue;
      this.#fail(
        rid,
        new SluiceError('ws_connection_lost', 'The connection closed before the reply came', {
          details: { sent: true },
        }),
      );
    }
  }

  /** Fails everything (the client closed, or the transport gave up). */
  closeAll(error: unknown): void {
    for (const rid of [...this.#pending.keys()]) this.#fail(rid, error);
  }

  #fail(rid: RequestId, error: unknown): void {
    this.#take(rid)?.reject(error);
  }

  #take(rid: RequestId): Pending | undefined {
    const pending = this.#pending.get(rid);
    if (!pending) return undefined;
    this.#pending.delete(rid);
    if (pending.sent) this.#inFlight--;
    else this.#outbox.delete(rid);
    pending.timer.clear();
    pending.cleanup();
    return pending;
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new SluiceError('aborted', String(reason));
}
