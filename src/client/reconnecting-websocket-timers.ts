/**
 * Timers for the reconnecting socket: unref'd by default (an open socket is what should keep
 * a Node process alive, not our bookkeeping), each with one `clear()` so teardown is a loop.
 */

export interface Timer {
  clear(): void;
}

export function startTimer(fn: () => void, ms: number, options: { ref?: boolean } = {}): Timer {
  const handle = setTimeout(fn, ms);
  if (options.ref !== true) (handle as { unref?: () => void }).unref?.();
  return { clear: () => clearTimeout(handle) };
}

export interface HeartbeatInit {
  /** Quiet time (ms) after which a ping is sent. */
  interval: number;
  /** Time (ms) after a ping within which anything at all must arrive. */
  timeout: number;
  ping: () => void;
  dead: () => void;
}

/**
 * Half-open detection without a timer reset per message: a received message only sets a
 * flag, and a tick every `interval` looks at it. A busy connection never pings; a quiet one
 * pings, and is declared dead when the ping goes unanswered for `timeout` ms.
 */
export class Heartbeat {
  readonly #init: HeartbeatInit;
  #heard = false;
  #tick: Timer | undefined;
  #deadline: Timer | undefined;

  constructor(init: HeartbeatInit) {
    this.#init = init;
    this.#schedule();
  }

  received(): void {
    this.#heard = true;
  }

  stop(): void {
    this.#tick?.clear();
    this.#deadline?.clear();
    this.#tick = this.#deadline = undefined;
  }

  #schedule(): void {
    this.#tick = startTimer(() => this.#onTick(), this.#init.interval);
  }

  #onTick(): void {
    if (this.#heard) {
      this.#heard = false;
      this.#schedule();
      return;
    }
    this.#deadline = startTimer(() => {
      this.#deadline = undefined;
      if (this.#heard) {
        this.#heard = false;
        this.#schedule();
      } else this.#init.dead();
    }, this.#init.timeout);
    try {
      this.#init.ping();
    } catch {
      // A socket that cannot take a ping is as good as dead: the deadline will say so.
    }
  }
}
