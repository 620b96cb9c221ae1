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
import {
  sendCpu,
  sendError,
  sendReply,
  serveCommands,
  startHelper,
} from '../shared/serve-commands.js';

/** Above the bench's 1,000 concurrent generations (finished ones are evicted first). */
const MAX_GENERATIONS = 2048;

const send = sendReply<ServerReply>;

async function main(): Promise<void> {
  const baseUrl = process.argv[2];
  if (!baseUrl) throw new Error('usage: proxy-process <upstream base URL>');
  const llm = createLlmHandler({
    upstream: { baseUrl },
    maxGenerations: MAX_GENERATIONS,
    onUsage: (summary) => {
      if (summary.status !== 'completed') sendError(new Error(`generation ${summary.status}`));
    },
  });
  const app = createSluiceServer({
    config: { host: '127.0.0.1', port: 0 },
    handlers: [llm],
    onError: sendError,
  });
  const url = await app.listen();
  serveCommands<ServerCommand>(
    // The pacing is the upstream's business: the proxy only confirms.
    { configure: () => send({ type: 'configured' }), cpu: sendCpu },
    () => Promise.all([app.close(), llm.close()]),
  );
  send({ type: 'listening', url });
}

startHelper(main);
