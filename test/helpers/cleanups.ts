import { afterEach } from 'vitest';

/**
 * Teardown registered during a test, run after it in reverse order (what was opened last
 * closes first), for the calling test file.
 */
export function perTestCleanups(): {
  cleanups: (() => unknown)[];
  defer: (cleanup: () => unknown) => void;
} {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return { cleanups, defer: (cleanup) => void cleanups.push(cleanup) };
}
