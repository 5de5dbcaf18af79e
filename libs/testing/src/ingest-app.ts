import { freePort, startApp, type RunningApp } from './app-process';
import { stackEnv } from './stack-env';
import type { TestStack } from './test-stack';

/**
 * The built ingest on a free port of its own, against the test stack, with its source APIs at the
 * given (simulated) Raise and VOMO and WEBHOOK_PUBLIC_URL pointing at itself, so the webhooks it
 * registers reach it. `env` adds the rest (secrets key, admin token, rates…). Resolves when ready.
 */
export async function startIngestApp(
  stack: TestStack,
  topicPrefix: string,
  sources: { raiseUrl: string; vomoUrl: string },
  env: Record<string, string>,
): Promise<RunningApp> {
  const port = await freePort();
  const app = startApp(
    'ingest',
    {
      ...stackEnv(stack, topicPrefix),
      RAISE_API_URL: sources.raiseUrl,
      VOMO_API_URL: sources.vomoUrl,
      WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
    port,
  );
  await app.waitUntilReady();
  return app;
}
