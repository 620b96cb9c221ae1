/**
 * The floor for the LLM proxy bench: the least a proxy can do in Node. A bare `node:http`
 * server that forwards each request to the upstream over a keep-alive agent and pipes the
 * response bytes back untouched (no parsing, no ids, no resumability). What it adds over
 * calling the upstream directly is what any Node proxy adds on this machine.
 *
 *   node bench/llm/pipe-proxy-process.ts http://127.0.0.1:<port>/v1
 */
import http from 'node:http';
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
  const baseUrl = process.argv[2];
  if (!baseUrl) throw new Error('usage: pipe-proxy-process <upstream base URL>');
  const upstream = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4096 });
  const server = http.createServer((req, res) => {
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${upstream.pathname}${req.url?.replace(/^\/v1/, '') ?? ''}`,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, {
          'content-type': upstreamRes.headers['content-type'] ?? 'text/event-stream',
          'cache-control': 'no-cache',
        });
        upstreamRes.pipe(res);
      },
    );
    forwarded.on('error', (error) => {
      sendError(error);
      res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) forwarded.destroy();
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  serveCommands<ServerCommand>(
    { configure: () => send({ type: 'configured' }), cpu: sendCpu },
    () => {
      agent.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  );
  send({ type: 'listening', url: `http://127.0.0.1:${address.port}` });
}

startHelper(main);
