/**
 * Readiness of a server under test: a client's connection completes before the server has
 * registered it as a subscriber or receiver, so the bench polls the server's own count
 * before it measures anything.
 */

/** Pause between two readings of the count. */
const POLL_MS = 25;

export async function waitForCount(
  read: () => Promise<number>,
  expected: number,
  options: { maxPolls: number; error: (count: number) => string },
): Promise<void> {
  for (let i = 0; ; i++) {
    const count = await read();
    if (count === expected) return;
    if (i > options.maxPolls) throw new Error(options.error(count));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
