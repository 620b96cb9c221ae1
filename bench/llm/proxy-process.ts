/**
 * sluice as an LLM proxy, alone in its process so that `process.cpuUsage()` is its CPU:
 * the runnable server (`createSluiceServer`) with the LLM handler mounted, every model but
 * the mock routed to the bench upstream given as the first argument.
 *
 *   node --import tsx bench/llm/proxy-process.ts http://127.0.0.1:<port>/v1
 *
 * Defaults everywhere (one chunk per token, no coalescing, the private memory broker),
 * except `maxGenerations`, which must hold the largest concurrency the bench offers.
 */
import { createLlmHandler } from '../../src/llm/index.js';
import { createSluiceServer } from '../../src/server/server.js';
import type { ServerCommand, ServerReply } from './protocol.js';

/** Above the bench's 1,000 concurrent generations (finished ones are evicted first). */
const MAX_GENERATIONS = 2048;

function send(reply: ServerReply): void {
  process.send?.(reply);
}

function fail(error: unknown): void {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}

async function main(): Promise<void> {
  const baseUrl = process.argv[2];
  if (!baseUrl) throw new Error('usage: proxy-process <upstream base URL>');
  const llm = createLlmHandler({
    upstream: { baseUrl },
    maxGenerations: MAX_GENERATIONS,
    onUsage: (summary) => {
      if (summary.status !== 'completed') fail(new Error(`generation ${summary.status}`));
    },
  });
  const app = createSluiceServer({
    config: { host: '127.0.0.1', port: 0 },
    handlers: [llm],
    onError: fail,
  });
  const url = await app.listen();
  process.on('message', (command: ServerCommand) => {
    switch (command.type) {
      case 'configure':
        send({ type: 'configured' });
        break;
      case 'cpu': {
        const { user, system } = process.cpuUsage();
        send({ type: 'cpu', user, system });
        break;
      }
      case 'exit':
        process.disconnect();
        break;
    }
  });
  // The parent going away ends us too: no orphaned servers.
  process.once('disconnect', () => {
    void Promise.all([app.close(), llm.close()]).finally(() => process.exit(0));
  });
  send({ type: 'listening', url });
}

main().catch((error: unknown) => {
  fail(error);
  process.exitCode = 1;
  process.disconnect();
});
