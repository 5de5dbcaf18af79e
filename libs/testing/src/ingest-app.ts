import { freePort, startApp, type AppName, type RunningApp } from './app-process';
import { stackEnv } from './stack-env';
import type { TestStack } from './test-stack';

/**
 * A built app on a free port against the test stack (brokers, registry, database, topic prefix),
 * with `env` on top; resolves once /health/ready answers.
 */
export async function startStackApp(
  app: AppName,
  stack: TestStack,
  topicPrefix: string,
  env: Record<string, string>,
  port?: number,
): Promise<RunningApp> {
  const running = startApp(
    app,
    { ...stackEnv(stack, topicPrefix), ...env },
    port ?? (await freePort()),
  );
  await running.waitUntilReady();
  return running;
}

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
  return startStackApp(
    'ingest',
    stack,
    topicPrefix,
    {
      RAISE_API_URL: sources.raiseUrl,
      VOMO_API_URL: sources.vomoUrl,
      WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
    port,
  );
}
