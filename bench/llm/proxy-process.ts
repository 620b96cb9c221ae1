/**
 * sluice as an LLM proxy, alone in its process so that `process.cpuUsage()` is its CPU:
 * the runnable server (`createSluiceServer`) with the LLM handler mounted, every model but
 * the mock routed to the bench upstream given as the first argument.
 *
 *   node --import tsx bench/llm/proxy-process.ts http://127.0.0.1:<port>/v1 <maxGenerations>
 *
 * Defaults everywhere (one chunk per token, no coalescing, the private memory broker),
 * except `maxGenerations` where a scenario's concurrency needs more than the default: the
 * bench passes the larger of the two, so the finished generations kept for resuming are
 * as many as a deployment on defaults keeps.
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

const send = sendReply<ServerReply>;

async function main(): Promise<void> {
  const [baseUrl, maxGenerations] = process.argv.slice(2);
  if (!baseUrl || !maxGenerations) {
    throw new Error('usage: proxy-process <upstream base URL> <maxGenerations>');
  }
  const llm = createLlmHandler({
    upstream: { baseUrl },
    maxGenerations: Number(maxGenerations),
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
