/** Polling helpers for tests that wait on brokers, processes and simulated streets. */

/** Resolves once `condition()` holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once `count()` has not changed for `quietMs`: messages still in flight (a broker
 * delivering what stopped clients sent) have arrived. Rejects naming `what` after `timeoutMs`.
 */
export async function waitForQuiet(count: () => number, what: string, quietMs = 500, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to settle`);
    await sleep(25);
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}
