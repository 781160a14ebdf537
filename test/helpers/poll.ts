/**
 * Polls `probe` until it returns something truthy and returns that; fails naming `what` and the last value once
 * `timeoutMs` has passed. For state another process publishes: never assume it is there already.
 */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 30_000, what = 'condition', intervalMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await probe();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`${what} not reached after ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
