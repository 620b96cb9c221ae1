/**
 * Server configuration: one table (`CONFIG_OPTIONS`) is the single source for defaults,
 * environment variables, CLI flags and the README's configuration table (a test checks
 * the README against it). Flags win over environment variables, which win over defaults.
 */
import { SluiceError } from '../core/errors.js';
import { MAX_TIMER_MS } from '../core/timer-bound.js';

type Kind = 'string' | 'port' | 'int' | 'ms' | 'list';

interface OptionSpec<K extends string = string> {
  key: K;
  env: string;
  flag: string;
  kind: Kind;
  /** `null` means "off" / "not set". */
  default: string | number | string[] | null;
  description: string;
}

export const CONFIG_OPTIONS = [
  {
    key: 'host',
    env: 'HOST',
    flag: '--host',
    kind: 'string',
    default: '127.0.0.1',
    description: 'Interface to bind. Open mode (no JWT secret) refuses non-loopback hosts.',
  },
  {
    key: 'port',
    env: 'PORT',
    flag: '--port',
    kind: 'port',
    default: 8080,
    description: 'TCP port (0 picks a free one).',
  },
  {
    key: 'maxBodySize',
    env: 'SLUICE_MAX_BODY_SIZE',
    flag: '--max-body-size',
    kind: 'int',
    default: 1024 * 1024,
    description: 'Largest accepted HTTP request body, bytes (larger: 413).',
  },
  {
    key: 'keepAlive',
    env: 'SLUICE_KEEPALIVE_MS',
    flag: '--keepalive-ms',
    kind: 'ms',
    default: 15_000,
    description: 'Interval of SSE keepalive comments, ms (0 disables).',
  },
  {
    key: 'stallTimeout',
    env: 'SLUICE_STALL_TIMEOUT_MS',
    flag: '--stall-timeout-ms',
    kind: 'ms',
    default: 30_000,
    description: 'Disconnect an SSE client that has not read for this long, ms (0 disables).',
  },
  {
    key: 'retry',
    env: 'SLUICE_RETRY_MS',
    flag: '--retry-ms',
    kind: 'ms',
    default: null,
    description: 'SSE `retry:` sent at stream start, ms (unset: not sent).',
  },
  {
    key: 'historyLimit',
    env: 'SLUICE_HISTORY_LIMIT',
    flag: '--history-limit',
    kind: 'int',
    default: 1000,
    description: 'Messages kept per channel for resume (memory broker).',
  },
  {
    key: 'historyMaxAge',
    env: 'SLUICE_HISTORY_MAX_AGE_MS',
    flag: '--history-max-age-ms',
    kind: 'ms',
    default: 3_600_000,
    description: 'Age after which history is trimmed, ms (0: no age limit).',
  },
  {
    key: 'jwtSecret',
    env: 'SLUICE_JWT_SECRET',
    flag: '--jwt-secret',
    kind: 'string',
    default: null,
    description:
      'HS256 secret (32+ bytes) for JWT auth of subscribe and publish. Unset: open mode, loopback only.',
  },
  {
    key: 'allowedOrigins',
    env: 'SLUICE_ALLOWED_ORIGINS',
    flag: '--allowed-origins',
    kind: 'list',
    default: null,
    description: 'Comma-separated Origins allowed to open WebSockets (unset: same host only).',
  },
  {
    key: 'shutdownTimeout',
    env: 'SLUICE_SHUTDOWN_TIMEOUT_MS',
    flag: '--shutdown-timeout-ms',
    kind: 'ms',
    default: 4_000,
    description: 'On SIGINT/SIGTERM, connections still open after this long are cut, ms.',
  },
] as const satisfies readonly OptionSpec[];

export type ConfigKey = (typeof CONFIG_OPTIONS)[number]['key'];

export interface ServerConfig {
  host: string;
  port: number;
  maxBodySize: number;
  keepAlive: number | null;
  stallTimeout: number | null;
  retry: number | null;
  historyLimit: number;
  historyMaxAge: number | null;
  jwtSecret: string | null;
  allowedOrigins: string[] | null;
  shutdownTimeout: number;
}

export const SERVER_DEFAULTS: Readonly<ServerConfig> = Object.freeze(
  Object.fromEntries(CONFIG_OPTIONS.map((o) => [o.key, o.default])) as unknown as ServerConfig,
);

/**
 * Reads the configuration from environment variables and `--flag value` / `--flag=value`.
 * `extraFlags` are accepted and left to their owner (the LLM options have their own table).
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
  extraFlags: readonly string[] = [],
): ServerConfig {
  const flags = parseFlags(argv, extraFlags);
  const config: Record<string, unknown> = {};
  for (const option of CONFIG_OPTIONS) {
    const raw = flags.get(option.flag) ?? env[option.env];
    config[option.key] =
      raw === undefined || raw === '' ? option.default : parseValue(option, raw.trim());
  }
  return config as unknown as ServerConfig;
}

/** `--flag value` and `--flag=value` pairs; unknown flags are an error that says so. */
export function parseFlags(
  argv: readonly string[],
  extraFlags: readonly string[] = [],
): Map<string, string> {
  const known = new Set<string>([...CONFIG_OPTIONS.map((o) => o.flag), ...extraFlags]);
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!known.has(name)) {
      throw new SluiceError('invalid_argument', `Unknown option ${name}; see --help`);
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new SluiceError('invalid_argument', `${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function parseValue(option: OptionSpec, raw: string): unknown {
  if (option.kind === 'string') return raw;
  if (option.kind === 'list') return raw.split(',').map((s) => s.trim());
  if (!/^\d+$/.test(raw)) {
    throw new SluiceError('invalid_argument', `${option.env} / ${option.flag} must be an integer`);
  }
  const value = Number(raw);
  if (option.kind === 'port' && value > 65535) {
    throw new SluiceError('invalid_argument', `${option.env} must be a port number`);
  }
  // For durations, 0 means "off" where the default is a duration that can be disabled.
  if (option.kind === 'ms' && value === 0 && option.key !== 'shutdownTimeout') return null;
  // A timer cannot wait longer: Node would fire it after about 1 ms instead.
  if (option.kind === 'ms' && value > MAX_TIMER_MS) {
    throw new SluiceError('invalid_argument', `${option.env} must be at most ${MAX_TIMER_MS} ms`);
  }
  return value;
}

/** The help text and the README table come from the same rows. */
export function configTable(): string {
  const rows = CONFIG_OPTIONS.map(
    (o) => `| \`${o.env}\` | \`${o.flag}\` | ${formatDefault(o.default)} | ${o.description} |`,
  );
  return ['| Variable | Flag | Default | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function formatDefault(value: string | number | readonly string[] | null): string {
  if (value === null) return 'unset';
  return `\`${Array.isArray(value) ? value.join(',') : String(value)}\``;
}
