/**
 * The server side of the WebSocket benches, one process per server so that its CPU time
 * (`process.cpuUsage()`) and memory (`process.memoryUsage()` after a full GC; run with
 * `--expose-gc`) are its own.
 *
 *   node --import tsx --expose-gc bench/ws/server-process.ts <kind> '<options json>'
 *
 * The publisher is the SSE bench's pacer, inside this process, stamping each message with
 * the wall clock; the parent drives everything over IPC (see protocol.ts).
 */
import { pace } from '../fanout/protocol.js';
import {
  benchPayload,
  type MemorySample,
  type WsServerCommand,
  type WsServerKind,
  type WsServerOptions,
  type WsServerReply,
} from './protocol.js';
import { createTarget, type WsTarget } from './targets.js';
import {
  sendCpu,
  sendError,
  sendReply,
  serveCommands,
  startHelper,
} from '../shared/serve-commands.js';

const KINDS: readonly WsServerKind[] = ['sluice', 'ws-loop', 'ws-frame', 'socketio'];

const send = sendReply<WsServerReply>;

/** Full collections until the heap stops shrinking (weak refs and finalizers need a few). */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server process with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

function sample(target: WsTarget, since: number): MemorySample {
  collect();
  const usage = process.memoryUsage();
  return {
    at: performance.now() - since,
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    arrayBuffers: usage.arrayBuffers,
    connections: target.connections(),
    maxConnectionBuffered: target.maxConnectionBuffered(),
  };
}

async function stall(
  target: WsTarget,
  command: Extract<WsServerCommand, { type: 'stall' }>,
  publish: (seq: number) => void,
): Promise<void> {
  const since = performance.now();
  const samples = [sample(target, since)];
  const timer = setInterval(() => samples.push(sample(target, since)), command.interval);
  try {
    const { startedAt, endedAt } = await pace(command.count, command.rate, publish);
    samples.push(sample(target, since));
    send({ type: 'stalled', samples, startedAt, endedAt });
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const kind = process.argv[2] as WsServerKind;
  if (!KINDS.includes(kind)) throw new Error(`usage: server-process ${KINDS.join('|')} [json]`);
  const options = JSON.parse(process.argv[3] ?? '{}') as WsServerOptions;
  const target = createTarget(kind, options, sendError);
  const publish = (seq: number): void => target.publish(benchPayload(seq, options.padBytes));
  const url = await target.listen();
  serveCommands<WsServerCommand>(
    {
      count: () => send({ type: 'count', count: target.receivers() }),
      cpu: sendCpu,
      memory: () => send({ type: 'memory', sample: sample(target, performance.now()) }),
      publish: ({ count, rate }) => {
        pace(count, rate, publish).then(
          ({ startedAt, endedAt }) => send({ type: 'published', count, startedAt, endedAt }),
          sendError,
        );
      },
      stall: (command) => {
        stall(target, command, publish).catch(sendError);
      },
    },
    () => target.close(),
  );
  send({ type: 'listening', url });
}

startHelper(main);
