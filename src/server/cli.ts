#!/usr/bin/env node
/**
 * `sluice` / `npm start`: runs the server on embedded defaults (memory broker, 127.0.0.1).
 * SIGINT/SIGTERM shut it down gracefully; the process exits within 5 seconds.
 */
import { isSluiceError } from '../core/errors.js';
import { configTable, loadConfig } from './config.js';
import { createSluiceServer } from './server.js';

const EXIT_DEADLINE_MS = 5_000;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`Usage: sluice [flags]\n\n${configTable()}\n`);
    return;
  }
  const config = loadConfig();
  const app = createSluiceServer({
    config,
    onError: (error) => console.error('sluice: unexpected error', error),
  });
  if (app.authWarning) console.warn(app.authWarning);
  const url = await app.listen();
  process.stdout.write(`sluice listening on ${url}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`sluice: ${signal}, shutting down\n`);
    // A hard deadline: whatever happens, the process is gone within 5 s.
    setTimeout(() => process.exit(1), EXIT_DEADLINE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('sluice: error during shutdown', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(isSluiceError(error) ? `sluice: ${error.message}` : error);
  process.exit(1);
});
