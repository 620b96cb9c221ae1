/**
 * The CLI as a user runs it: it prints its URL, and SIGTERM ends open streams cleanly and
 * exits with code 0 within 5 seconds.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../src/server/cli.ts', import.meta.url));

/** Runs the CLI with `args` until it exits by itself: its exit code and its stderr. */
async function runToExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: unknown; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (err += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  return { code, err };
}

function startCli(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', cli], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`cli exited early with ${code}: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, url, exited };
}

describe('CLI and graceful shutdown', () => {
  it('binds 127.0.0.1, and on SIGTERM ends streams cleanly and exits 0 within 5 s', async () => {
    const { child, url, exited } = startCli({ PORT: '0' });
    const base = await url;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${base}/v1/channels/bye/events`);
    const reader = response.body!.getReader();
    await reader.read();
    const started = Date.now();
    child.kill('SIGTERM');
    // The stream ends normally (done), not with a network error.
    for (;;) if ((await reader.read()).done) break;
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses a bad flag with a clear message and a non-zero exit', async () => {
    const { code, err } = await runToExit(['--prot', '1']);
    expect(code).toBe(1);
    expect(err).toContain('Unknown option --prot');
  });

  it('a second signal during a slow shutdown exits at once instead of waiting it out', async () => {
    // A publish whose body never arrives keeps a request in flight, so the graceful close
    // waits for the shutdown timeout; an operator's second Ctrl-C must not.
    const { child, url, exited } = startCli({ PORT: '0', SLUICE_SHUTDOWN_TIMEOUT_MS: '60000' });
    const { hostname, port } = new URL(await url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /v1/channels/slow/messages HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    socket.destroy();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(code).not.toBe(0);
  });

  it('honours a shutdown timeout longer than 5 s: cuts at the timeout and exits 0', async () => {
    const { child, url, exited } = startCli({ PORT: '0', SLUICE_SHUTDOWN_TIMEOUT_MS: '5500' });
    const { hostname, port } = new URL(await url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    socket.write(
      'POST /v1/channels/slow/messages HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    socket.destroy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_400);
    expect(code).toBe(0);
  }, 15_000);

  it('reports a port in use in one clear line and exits 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const { code, err } = await runToExit([], { PORT: String(port) });
      expect(code).toBe(1);
      expect(err).toContain(`127.0.0.1:${port}`);
      expect(err).toMatch(/in use/);
      expect(err).not.toMatch(/\n\s+at /); // no stack trace for an operator's mistake
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
