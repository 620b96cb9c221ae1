/**
 * A bench helper process: a TypeScript script run under tsx with an IPC channel, asked
 * questions one at a time (`ask(command, replyType)`). An `error` reply, an exit or a
 * timeout rejects whatever is waiting, so a broken run fails loudly instead of hanging.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Waiter {
  type: string;
  resolve: (reply: { type: string }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Child<Command extends { type: string }, Reply extends { type: string }> {
  readonly #process: ChildProcess;
  readonly #waiters: Waiter[] = [];
  readonly #early: { type: string }[] = [];

  /** `execArgv`: extra Node flags, e.g. `--cpu-prof` to see where a server's time goes. */
  constructor(script: string, args: readonly string[] = [], execArgv: readonly string[] = []) {
    this.#process = fork(fileURLToPath(new URL(script, import.meta.url)), args, {
      cwd: ROOT,
      execArgv: ['--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#process.on('message', (reply: { type: string; message?: string }) => {
      if (reply.type === 'error') {
        this.#failAll(new Error(`${script}: ${reply.message ?? 'error'}`));
        return;
      }
      const index = this.#waiters.findIndex((w) => w.type === reply.type);
      if (index < 0) {
        this.#early.push(reply);
        return;
      }
      const [waiter] = this.#waiters.splice(index, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(reply);
    });
    this.#process.once('exit', (code) => {
      this.#failAll(new Error(`${script} exited (code ${String(code)})`));
    });
  }

  /** Sends `command` (unless null) and waits for the next reply of `type`. */
  ask<T extends Reply['type']>(
    command: Command | null,
    type: T,
    timeout = 60_000,
  ): Promise<Extract<Reply, { type: T }>> {
    const promise = new Promise<Extract<Reply, { type: T }>>((resolve, reject) => {
      const early = this.#early.findIndex((r) => r.type === type);
      if (early >= 0) {
        resolve(this.#early.splice(early, 1)[0] as Extract<Reply, { type: T }>);
        return;
      }
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new Error(`No "${type}" reply within ${timeout} ms`));
      }, timeout);
      const waiter: Waiter = {
        type,
        resolve: resolve as (reply: { type: string }) => void,
        reject,
        timer,
      };
      this.#waiters.push(waiter);
    });
    if (command !== null) this.#process.send(command);
    return promise;
  }

  /** Asks the process to exit and waits for it (killing it if it does not go in time). */
  async stop(exit: Command): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()));
    if (this.#process.connected) this.#process.send(exit);
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  #failAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}

/** What stopping needs of a helper: every helper's commands include `exit`. */
interface Stoppable {
  stop(exit: { type: 'exit' }): Promise<void>;
}

/**
 * Stops helpers one after the other in the order given (a load before the server it
 * talks to, so no client sees its server vanish first); `undefined` ones never started.
 */
export async function stopInOrder(children: readonly (Stoppable | undefined)[]): Promise<void> {
  for (const child of children) await child?.stop({ type: 'exit' });
}
