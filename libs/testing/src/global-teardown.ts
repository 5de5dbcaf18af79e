/** Stops the containers globalSetup started (local processes are left to tools/infra/test-all.sh). */
export default async function globalTeardown(): Promise<void> {
  const started =
    (globalThis as { __RAISE_SYNC_STARTED__?: Array<{ stop(): Promise<unknown> }> })
      .__RAISE_SYNC_STARTED__ ?? [];
  for (const container of started.reverse()) {
    await container.stop();
  }
}
