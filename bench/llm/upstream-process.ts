/**
 * The model under the LLM proxy bench: a minimal OpenAI-compatible server that streams
 * `chat.completion.chunk` frames at a fixed pace, each content token carrying the wall
 * clock at which it was written (`t@<ms>;`). It is both the "direct" baseline (the client
 * calls it) and sluice's upstream (the proxy calls it), so latency = arrival − stamp
 * measures exactly the path after the model, with or without sluice in it.
 *
 *   node --import tsx bench/llm/upstream-process.ts
 *
 * Its own timer lateness does not count: a stamp is taken when the token is written, not
 * when it was due. Writes are not gated on backpressure: like a model server, it produces
 * at its pace, and the bench keeps the offered rate low enough that nothing queues.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { wallClock } from '../fanout/protocol.js';
import type { Pacing, ServerCommand, ServerReply } from './protocol.js';
import { sendCpu, sendReply, serveCommands } from '../shared/serve-commands.js';

/** Request bodies above this are refused (the bench sends about 100 bytes). */
const MAX_BODY_BYTES = 64 * 1024;

const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
};

let pacing: Pacing = { tokens: 20, tps: 10, ttftMs: 0 };
let nextId = 0;

const send = sendReply<ServerReply>;

function frame(id: string, created: number, choice: string, usage = ''): string {
  return (
    `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},` +
    `"model":"bench-model","choices":[${choice}]${usage}}\n\n`
  );
}

function delta(body: string, finish: string | null = null): string {
  const reason = finish === null ? 'null' : `"${finish}"`;
  return `{"index":0,"delta":${body},"logprobs":null,"finish_reason":${reason}}`;
}

function stream(res: http.ServerResponse, includeUsage: boolean): void {
  const { tokens, tps, ttftMs } = pacing;
  const id = `chatcmpl-bench${++nextId}`;
  const created = Math.floor(Date.now() / 1000);
  const usageField = includeUsage ? ',"usage":null' : '';
  const startedAt = performance.now();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  res.writeHead(200, HEADERS);
  res.socket?.setNoDelay(true);
  res.write(frame(id, created, delta('{"role":"assistant","content":""}'), usageField));
  const step = () => {
    timer = undefined;
    res.write(frame(id, created, delta(`{"content":"t@${wallClock().toFixed(3)}; "}`), usageField));
    if (++sent < tokens) {
      const due = startedAt + ttftMs + (sent * 1000) / tps;
      timer = setTimeout(step, Math.max(0, due - performance.now()));
      return;
    }
    let tail = frame(id, created, delta('{}', 'stop'), usageField);
    if (includeUsage) {
      tail += frame(
        id,
        created,
        '',
        `,"usage":{"prompt_tokens":1,"completion_tokens":${tokens},"total_tokens":${tokens + 1}}`,
      );
    }
    res.end(`${tail}data: [DONE]\n\n`);
  };
  timer = setTimeout(step, ttftMs);
  // A client that goes away stops the generation, as a model server would.
  res.once('close', () => {
    if (timer) clearTimeout(timer);
  });
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no"}}');
    return;
  }
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else parts.push(chunk);
  });
  req.once('end', () => {
    let includeUsage = false;
    try {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
        stream?: unknown;
        stream_options?: { include_usage?: unknown };
      };
      if (body.stream !== true) throw new Error('stream must be true');
      includeUsage = body.stream_options?.include_usage === true;
    } catch (error) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(error) } }));
      return;
    }
    stream(res, includeUsage);
  });
});

// The proxy's connection pool keeps its upstream sockets between runs, as it would in use.
server.keepAliveTimeout = 60_000;

serveCommands<ServerCommand>(
  {
    configure: (command) => {
      pacing = command.pacing;
      send({ type: 'configured' });
    },
    cpu: sendCpu,
  },
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
