/**
 * Retries `assertion` until it passes or `timeoutMs` runs out, then rethrows its last error.
 * Use it instead of sleeping: it waits exactly as long as the condition needs.
 */
export async function expectEventually(
  assertion: () => Promise<void> | void,
  { timeoutMs = 15_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() >= deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
