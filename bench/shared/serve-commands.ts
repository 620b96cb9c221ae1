/**
 * The IPC side of a bench helper process (the parent drives it with bench/fanout/child.ts's
 * `Child`): replies, failures reported as `error` replies so the parent's `ask` fails
 * loudly instead of timing out, and the command loop every helper runs.
 */
import { gcPauses } from './gc-pauses.js';

/** Sends one reply to the parent; typed per process as `sendReply<TheirReply>`. */
export function sendReply<Reply extends { type: string }>(reply: Reply): void {
  process.send?.(reply);
}

/** Reports a failure to the parent as an `error` reply. */
export function sendError(error: unknown): void {
  sendReply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}

/**
 * Answers a `cpu` command: this process's CPU time so far (user + system, every thread), µs,
 * and its GC pauses since the first such command (see gc-pauses.ts).
 */
export function sendCpu(): void {
  const { user, system } = process.cpuUsage();
  sendReply({ type: 'cpu', user, system, gc: gcPauses() });
}

type Handlers<Command extends { type: string }> = {
  [K in Exclude<Command['type'], 'exit'>]: (command: Extract<Command, { type: K }>) => void;
};

/**
 * Hands each command from the parent to the handler of its type. `exit` and the parent going
 * away both end the process after `close()`: no helper outlives its bench.
 */
export function serveCommands<Command extends { type: string }>(
  handlers: Handlers<Command>,
  close: () => Promise<unknown> | void,
): void {
  process.on('message', (command: Command) => {
    if (command.type === 'exit') {
      process.disconnect();
      return;
    }
    const handler = handlers[command.type as Exclude<Command['type'], 'exit'>] as
      ((command: Command) => void) | undefined;
    handler?.(command);
  });
  process.once('disconnect', () => {
    const closing = close();
    if (closing) void closing.finally(() => process.exit(0));
    else process.exit(0);
  });
}

/** Runs a helper's start-up; a failure goes to the parent and ends the process. */
export function startHelper(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    sendError(error);
    process.exitCode = 1;
    process.disconnect();
  });
}
