/**
 * One server under test and its client load, each in its own process (bench/fanout's
 * `Child`), started together and ready once the server counts every connection as a
 * receiver (subscribed, or in the room): an upgrade's 101 comes before the subscription.
 */
import path from 'node:path';
import { Child, stopInOrder } from '../fanout/child.js';
import { waitForCount } from '../shared/wait-for-count.js';
import {
  DIALECT,
  type WsClientCommand,
  type WsClientReply,
  type WsServerCommand,
  type WsServerKind,
  type WsServerOptions,
  type WsServerReply,
} from './protocol.js';

/** Relative to the repository root, the helper processes' working directory. */
const TSC_REGISTER = './bench/fanout/tsc-register.mjs';

/** For the benches' method notes. */
export const COMPILED_NOTE =
  'Server processes run the TypeScript as `tsc` emits it (each file transpiled alone, ' +
  'nothing added), not through tsx, whose esbuild `keepNames` wraps every named function ' +
  'in a `__name()` call that costs time and memory.';

export type WsServerProcess = Child<WsServerCommand, WsServerReply>;
export type WsClientProcess = Child<WsClientCommand, WsClientReply>;

export interface WsPair {
  kind: WsServerKind;
  server: WsServerProcess;
  client: WsClientProcess;
}

export interface StartOptions {
  clients: number;
  /** Connections that subscribe and then never read (default none). */
  stalled?: number;
  server?: WsServerOptions;
  /** Directory for a `--cpu-prof` profile of the server process. */
  profileDir?: string;
}

/**
 * Starts only the server process; it answers `listening` with its URL. Always with
 * `--expose-gc` (memory readings need it; it changes nothing else), and with the project's
 * TypeScript emitted as tsc would (bench/fanout/tsc-hooks.mjs), not as tsx does.
 */
export function startServer(
  kind: WsServerKind,
  options: WsServerOptions = {},
  profileDir?: string,
): WsServerProcess {
  const execArgv = ['--import', TSC_REGISTER, '--expose-gc'];
  if (profileDir !== undefined) {
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`);
  }
  return new Child('../ws/server-process.ts', [kind, JSON.stringify(options)], execArgv);
}

/** Polls the server until `expected` receivers are registered. */
export async function waitForReceivers(
  server: WsServerProcess,
  expected: number,
  label: string,
): Promise<void> {
  await waitForCount(async () => (await server.ask({ type: 'count' }, 'count')).count, expected, {
    maxPolls: 400,
    error: (count) => `${label}: ${count} of ${expected} receivers registered`,
  });
}

export async function startPair(kind: WsServerKind, options: StartOptions): Promise<WsPair> {
  const server = startServer(kind, options.server, options.profileDir);
  const client: WsClientProcess = new Child('../ws/client-process.ts');
  const pair = { kind, server, client };
  try {
    const { url } = await server.ask(null, 'listening');
    const stalled = options.stalled ?? 0;
    await client.ask(
      { type: 'connect', url, dialect: DIALECT[kind], clients: options.clients, stalled },
      'connected',
    );
    await waitForReceivers(server, options.clients + stalled, kind);
  } catch (error) {
    await stopPair(pair);
    throw error;
  }
  return pair;
}

export async function stopPair({ server, client }: WsPair): Promise<void> {
  await stopInOrder([client, server]);
}
