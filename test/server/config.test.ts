import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configTable, loadConfig, SERVER_DEFAULTS } from '../../src/server/config.js';

describe('configuration', () => {
  it('the README table is the one generated from CONFIG_OPTIONS', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('<!-- config-table -->');
    const end = readme.indexOf('<!-- /config-table -->');
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + '<!-- config-table -->'.length, end).trim()).toBe(configTable());
  });

  it('defaults to loopback, port 8080 and a 15 s keepalive', () => {
    expect(loadConfig({}, [])).toEqual(SERVER_DEFAULTS);
    expect(SERVER_DEFAULTS).toMatchObject({ host: '127.0.0.1', port: 8080, keepAlive: 15_000 });
  });

  it('reads environment variables, and flags win over them', () => {
    const config = loadConfig({ PORT: '9000', HOST: '0.0.0.0' }, [
      '--port',
      '9100',
      '--keepalive-ms=0',
    ]);
    expect(config).toMatchObject({ port: 9100, host: '0.0.0.0', keepAlive: null });
  });

  it('refuses unknown flags and malformed numbers with a clear message', () => {
    expect(() => loadConfig({}, ['--prot', '1'])).toThrow(/Unknown option --prot/);
    expect(() => loadConfig({ PORT: 'eighty' }, [])).toThrow(/PORT/);
    expect(() => loadConfig({ PORT: '70000' }, [])).toThrow(/port/);
  });

  it('refuses a duration no timer can wait (it would fire after about 1 ms)', () => {
    expect(() => loadConfig({ SLUICE_STALL_TIMEOUT_MS: String(2 ** 31) }, [])).toThrow(
      /SLUICE_STALL_TIMEOUT_MS must be at most 2147483647 ms/,
    );
    expect(loadConfig({ SLUICE_STALL_TIMEOUT_MS: String(2 ** 31 - 1) }, [])).toMatchObject({
      stallTimeout: 2 ** 31 - 1,
    });
  });
});
