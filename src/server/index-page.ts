import type { RouteHandler } from './handler.js';

/**
 * `GET /`: a short page listing the endpoints with a curl example for each. The demo app
 * replaces it once it is mounted (it is tried first).
 */
export function createIndexPage(): RouteHandler {
  return (request) => {
    const url = new URL(request.url);
    if (url.pathname !== '/' || request.method !== 'GET') return undefined;
    const base = url.origin;
    const rows: [string, string, string][] = [
      ['GET /healthz', 'Liveness and counters (JSON).', `curl ${base}/healthz`],
      [
        'POST /v1/channels/{channel}/messages',
        'Publish JSON to a channel; answers 201 {"id"}.',
        `curl -X POST -H 'content-type: application/json' -d '{"data":{"text":"hi"}}' ${base}/v1/channels/news/messages`,
      ],
      [
        'GET /v1/channels/{channel}/events',
        'Server-Sent Events of a channel; resume with Last-Event-ID or ?lastEventId=.',
        `curl -N ${base}/v1/channels/news/events`,
      ],
      [
        'POST /v1/chat/completions',
        'OpenAI-compatible chat completions (built-in mock model sluice-mock); streamed generations resume via /v1/generations/{id}/events.',
        `curl -N ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"sluice-mock","stream":true,"messages":[{"role":"user","content":"Hello"}]}'`,
      ],
      ['GET /v1/models', "The models, in OpenAI's shape.", `curl ${base}/v1/models`],
      [
        'GET /v1/ws',
        'WebSocket (subprotocol sluice.v1.json or sluice.v1.msgpack): subscribe, publish, presence.',
        `npx wscat -s sluice.v1.json -c ${base.replace('http', 'ws')}/v1/ws`,
      ],
    ];
    const items = rows
      .map(
        ([path, what, curl]) =>
          `<li><code>${escape(path)}</code> — ${escape(what)}<pre>${escape(curl)}</pre></li>`,
      )
      .join('\n');
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sluice</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}</style>
</head><body><h1>sluice</h1><p>Real-time streaming server. Endpoints:</p><ul>
${items}
</ul><p>Protocol details: docs/protocol.md in the repository.</p></body></html>`;
    return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
  };
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
