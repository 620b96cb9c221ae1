import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  createLlmHandler,
  type GenerationSummary,
  type LlmHandler,
  type LlmOptions,
} from '../../src/llm/index.js';
import type { RouteHandler } from '../../src/server/handler.js';
import { toNodeHandler } from '../../src/server/node-adapter.js';
import { createParser } from '../../src/sse/parser.js';

export interface LlmTestServer {
  llm: LlmHandler;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `<url>/v1`, the `baseURL` an OpenAI client takes. */
  baseURL: string;
  /** Every usage record, in the order generations ended. */
  usage: GenerationSummary[];
  /** Resolves with the next usage record (or one already recorded for `id`). */
  nextUsage(id?: string): Promise<GenerationSummary>;
  /** Requests the server has seen aborted by their client (socket closed early). */
  abortedRequests(): number;
  /** Destroys the sockets of open streaming requests: a network drop from the server side. */
  cutStreams(): number;
  close(): Promise<void>;
}

/** An LLM handler on a node:http server at 127.0.0.1, port 0, with usage captured. */
export async function startLlmServer(
  options: LlmOptions = {},
  /** Tried before the LLM routes (e.g. a test page). */
  extra?: RouteHandler,
): Promise<LlmTestServer> {
  const usage: GenerationSummary[] = [];
  const waiters: { id: string | undefined; resolve: (s: GenerationSummary) => void }[] = [];
  const llm = createLlmHandler({
    mock: { tokensPerSecond: null, timeToFirstTokenMs: null },
    ...options,
    onUsage: (summary) => {
      usage.push(summary);
      for (const waiter of [...waiters]) {
        if (waiter.id === undefined || waiter.id === summary.id) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(summary);
        }
      }
      options.onUsage?.(summary);
    },
  });
  const sockets = new Set<Socket>();
  let aborted = 0;
  const handler: RouteHandler = extra
    ? async (request, context) => (await extra(request, context)) ?? llm(request, context)
    : llm;
  const server = http.createServer(toNodeHandler(handler));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // 'finish' means the whole response was handed to the socket; 'close' without it is a
    // client that went away mid-response (checked by event, since the adapter's own close
    // handler may end the response while 'close' listeners are still running).
    let finished = false;
    res.once('finish', () => (finished = true));
    res.once('close', () => {
      if (!finished) aborted++;
    });
    const socket = req.socket;
    if (sockets.has(socket)) return; // keep-alive: one listener per socket, not per request
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    llm,
    url,
    baseURL: `${url}/v1`,
    usage,
    nextUsage: (id) => {
      const found = id === undefined ? undefined : usage.find((s) => s.id === id);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ id, resolve }));
    },
    abortedRequests: () => aborted,
    cutStreams() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    async close() {
      await llm.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads an SSE body to the end and returns its events' data and ids (via sluice's parser). */
export async function readSse(response: Response): Promise<{ data: string[]; ids: string[] }> {
  const data: string[] = [];
  const ids: string[] = [];
  const parser = createParser({
    onEvent: (event) => {
      data.push(event.data);
      ids.push(event.lastEventId);
    },
  });
  parser.feed(new Uint8Array(await response.arrayBuffer()));
  parser.end();
  return { data, ids };
}

export function chat(
  content: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { model: 'sluice-mock', messages: [{ role: 'user', content }], ...extra };
}
