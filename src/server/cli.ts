#!/usr/bin/env node
/**
 * `sluice` / `npm start`: runs the server on embedded defaults (memory broker, 127.0.0.1).
 * SIGINT/SIGTERM shut it down gracefully; the process exits within 5 seconds (or 1 s after a
 * longer shutdown timeout), or at once on a second signal.
 */
import { isSluiceError } from '../core/errors.js';
import { LLM_CONFIG_OPTIONS, llmOptionsFromEnv } from '../llm/options.js';
import { configTable, loadConfig, parseFlags } from './config.js';
import { createSluiceServer } from './server.js';

const EXIT_DEADLINE_MS = 5_000;
/** Time after the shutdown timeout for the cut connections and the broker to close. */
const EXIT_MARGIN_MS = 1_000;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(
      `Usage: sluice [flags]\n\n${configTable()}\n\nLLM options: see docs/llm.md (${LLM_CONFIG_OPTIONS.map((o) => o.flag).join(', ')})\n`,
    );
    return;
  }
  const llmFlags = LLM_CONFIG_OPTIONS.map((option) => option.flag);
  const argv = process.argv.slice(2);
  const config = loadConfig(process.env, argv, llmFlags);
  const flags = Object.fromEntries(parseFlags(argv, llmFlags));
  const app = createSluiceServer({
    config,
    llm: llmOptionsFromEnv(process.env, flags),
    onError: (error) => console.error('sluice: unexpected error', error),
  });
  if (app.authWarning) console.warn(app.authWarning);
  const url = await app.listen();
  process.stdout.write(`sluice listening on ${url}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    // A second signal means the operator will not wait for the graceful close: exit now.
    if (stopping) {
      process.stdout.write(`sluice: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`sluice: ${signal}, shutting down\n`);
    // A hard deadline: whatever happens, the process is gone soon after the configured
    // shutdown timeout (at least 5 s), so a longer SLUICE_SHUTDOWN_TIMEOUT_MS is honoured.
    const deadline = Math.max(EXIT_DEADLINE_MS, config.shutdownTimeout + EXIT_MARGIN_MS);
    setTimeout(() => process.exit(1), deadline).unref();
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
  // An operator's mistake (bad flag, port in use, no permission to bind) gets one line;
  // only an unexpected error gets its stack.
  const listenCodes = ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'];
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (isSluiceError(error)) console.error(`sluice: ${error.message}`);
  else if (code !== undefined && listenCodes.includes(code)) {
    console.error(`sluice: cannot listen: ${(error as Error).message}`);
  } else console.error(error);
  process.exit(1);
});
