import { randomUUID } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import {
  CustomerRepository,
  DestinationEntity,
  DestinationRepository,
  type CustomerStatus,
  type DestinationKind,
  customerScope,
} from '@raise-sync/shared/state';
import type { Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  expectEventually,
  freePort,
  startApp,
  type AdminCall,
  type AppName,
  type RunningApp,
  type TestStack,
  stackEnv,
  startIngestApp,
  startStackApp,
} from '@raise-sync/testing';

/**
 * Helpers for the reconciler's e2e tests (the CRM+ consistency tests may use them too; keep the
 * exports stable). One secrets key and one admin token for every app a test file starts, so the
 * reconciler can open what ingest sealed and all admin APIs answer the same token.
 */
export const ADMIN_TOKEN = randomBytes(24).toString('hex');
export const SECRETS_KEY = randomBytes(32).toString('hex');
export const box = SecretBox.fromHex(SECRETS_KEY);

export interface AppUnderTest {
  app: RunningApp;
  admin: AdminCall;
}

/** The environment every app of a test file shares. */
export function baseEnv(stack: TestStack, topicPrefix: string): Record<string, string> {
  return {
    ...stackEnv(stack, topicPrefix),
    SECRETS_KEY,
    ADMIN_TOKEN,
    LOG_LEVEL: 'info',
  };
}

async function start(
  name: AppName,
  env: Record<string, string>,
  port?: number,
): Promise<AppUnderTest> {
  const app = startApp(name, env, port ?? (await freePort()));
  await app.waitUntilReady();
  return { app, admin: adminClient(app.url, ADMIN_TOKEN) };
}

/** The built reconciler against the test stack and the simulator's Raise/VOMO. */
export function startReconciler(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  env: Record<string, string> = {},
): Promise<AppUnderTest> {
  return start('reconciler', {
    ...baseEnv(stack, topicPrefix),
    RAISE_API_URL: sim.raiseUrl,
    VOMO_API_URL: sim.vomoUrl,
    SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
    RECONCILER_TICK_MS: '200',
    ...env,
  });
}

/** The built backfiller (fast ticks) against the test stack and the simulator's Raise/VOMO. */
export function startBackfiller(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  env: Record<string, string> = {},
): Promise<AppUnderTest> {
  return start('backfiller', {
    ...baseEnv(stack, topicPrefix),
    RAISE_API_URL: sim.raiseUrl,
    VOMO_API_URL: sim.vomoUrl,
    SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
    BACKFILL_TICK_MS: '200',
    ...env,
  });
}

/** The built ingest, receiving the simulator's signed webhooks. */
export async function startIngest(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  env: Record<string, string> = {},
): Promise<AppUnderTest> {
  const app = await startIngestApp(stack, topicPrefix, sim, {
    SECRETS_KEY,
    ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
    ...env,
  });
  return { app, admin: adminClient(app.url, ADMIN_TOKEN) };
}

/**
 * The built ingest on a given port (WEBHOOK_PUBLIC_URL pointing at it), so a test can stop it and
 * start it again where the webhooks registered with the simulated Raise still point.
 */
export async function startIngestOnPort(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  port: number,
  env: Record<string, string> = {},
): Promise<AppUnderTest> {
  const app = await startStackApp(
    'ingest',
    stack,
    topicPrefix,
    {
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
      WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${port}`,
      SECRETS_KEY,
      ADMIN_TOKEN,
      LOG_LEVEL: 'info',
      SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
      ...env,
    },
    port,
  );
  return { app, admin: adminClient(app.url, ADMIN_TOKEN) };
}

/**
 * The built submitter (fast retries, so a test never waits minutes). It reads the donors of
 * webhook gifts from Raise (record completion), so it gets the simulator's source APIs.
 */
export function startSubmitter(
  stack: TestStack,
  topicPrefix: string,
  sim: Simulator,
  env: Record<string, string> = {},
): Promise<AppUnderTest> {
  return start('submitter', {
    ...baseEnv(stack, topicPrefix),
    RAISE_API_URL: sim.raiseUrl,
    VOMO_API_URL: sim.vomoUrl,
    SOURCE_RATE_LIMITS: 'raise=200:200,vomo=200:200',
    SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
    SUBMITTER_DELIVERY_TIMEOUT_MS: '5000',
    ...env,
  });
}

export interface Onboarded {
  id: string;
  org: string;
  raiseToken: string;
}

/** One destination as the submitter's admin API takes it. */
export interface DestinationSetting {
  kind: DestinationKind;
  name: string;
  config?: Record<string, unknown>;
  secrets?: Record<string, string>;
}

/** Sets a customer's destinations (the ones left out are disabled). */
export type SetDestinations = (
  customerId: string,
  destinations: DestinationSetting[],
) => Promise<void>;

/** Through the submitter's admin API, where operators set them. */
export const destinationsViaSubmitter =
  (submitter: AppUnderTest): SetDestinations =>
  async (customerId, destinations) => {
    const set = await submitter.admin('PUT', `/admin/customers/${customerId}/destinations`, {
      destinations,
    });
    if (set.status !== 200) {
      throw new Error(`destinations answered ${set.status}: ${JSON.stringify(set.body)}`);
    }
  };

/**
 * Straight into the store through the table's owner, sealed as the admin API seals them: for the
 * tests that run no submitter (one delivering would change what they observe).
 */
export const destinationsInStore =
  (stack: TestStack): SetDestinations =>
  (customerId, destinations) =>
    new DestinationRepository(stack.dataSource).replace(
      customerScope(customerId),
      destinations.map((d) => ({
        kind: d.kind,
        name: d.name,
        config: d.config,
        secrets: d.secrets ? box.sealJson(d.secrets) : undefined,
        enabled: true,
      })),
    );

/**
 * A simulator org and its customer onboarded through ingest's admin API: Raise token checked,
 * webhook registered with the simulated Raise, polling off (only webhooks flow), and a warehouse
 * destination set with `setDestinations`.
 */
export async function onboardWithWebhooks(
  ingest: AppUnderTest,
  setDestinations: SetDestinations,
  sim: Simulator,
  org: string,
  data: Record<string, number> = {},
): Promise<Onboarded> {
  const raiseToken = `raise-${org}-${randomBytes(4).toString('hex')}`;
  sim.control.createOrg({
    id: org,
    raiseToken,
    vomoToken: `vomo-${org}-${randomBytes(4).toString('hex')}`,
    donors: 5,
    gifts: 5,
    recurringGifts: 2,
    campaigns: 2,
    users: 0,
    ...data,
  });
  const created = await ingest.admin<{ id: string; webhookSubscription: string }>(
    'POST',
    '/admin/customers',
    {
      name: `Customer ${org}`,
      raise: { apiToken: raiseToken },
      polling: { enabled: false },
    },
  );
  // The Raise webhook is subscribed as part of onboarding.
  if (created.status !== 201 || created.body.webhookSubscription !== 'subscribed') {
    throw new Error(`onboarding answered ${created.status}: ${JSON.stringify(created.body)}`);
  }
  const id = created.body.id;
  await setDestinations(id, [{ kind: 'warehouse', name: 'warehouse' }]);
  return { id, org, raiseToken };
}

/**
 * A customer written straight to the state store (no ingest): sealed Raise token of a new
 * simulator org, a warehouse destination.
 */
export async function createCustomer(
  stack: TestStack,
  sim: Simulator,
  org: string,
  data: Record<string, number | string> = {},
  status: CustomerStatus = 'live',
): Promise<Onboarded> {
  const raiseToken = `raise-${org}-${randomBytes(4).toString('hex')}`;
  sim.control.createOrg({
    id: org,
    raiseToken,
    vomoToken: `vomo-${org}-${randomBytes(4).toString('hex')}`,
    donors: 5,
    gifts: 5,
    recurringGifts: 2,
    campaigns: 2,
    users: 0,
    ...data,
  });
  const customer = await new CustomerRepository(stack.dataSource, box).create(
    customerScope(randomUUID()),
    {
      name: `Customer ${org}`,
      status,
      credentials: { raise: { apiToken: raiseToken } },
    },
  );
  const repo = stack.dataSource.getRepository(DestinationEntity);
  await repo.save(
    repo.create({
      customerId: customer.id,
      kind: 'warehouse',
      name: 'warehouse',
      config: {},
      enabled: true,
    }),
  );
  return { id: customer.id, org, raiseToken };
}

export interface RunBody {
  id: string;
  customerId: string;
  kind: string;
  trigger: string;
  status: string;
  windowStart: string;
  windowEnd: string;
  counts: Record<string, number>;
  error: string | null;
  durationMs: number | null;
  discrepancies: {
    total: number;
    items: Array<{
      resource: string;
      sourceId: string;
      destinationId: string | null;
      state: string;
      actionable: boolean;
      republished: boolean;
      details: Record<string, unknown>;
    }>;
  };
}

/** Requests a run through the admin API (202) and returns it. */
export async function requestRun(
  reconciler: AppUnderTest,
  customerId: string,
  body: Record<string, unknown>,
): Promise<RunBody> {
  const response = await reconciler.admin<RunBody>(
    'POST',
    `/admin/customers/${customerId}/reconciliations`,
    body,
  );
  if (response.status !== 202) {
    throw new Error(`run request answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body;
}

/** Waits until the run finished (done, failed or skipped); returns it with every discrepancy. */
export async function waitForRun(
  reconciler: AppUnderTest,
  runId: string,
  timeoutMs = 60_000,
): Promise<RunBody> {
  let run: RunBody | undefined;
  await expectEventually(
    async () => {
      const response = await reconciler.admin<RunBody>(
        'GET',
        `/admin/reconciliations/${runId}?limit=1000`,
      );
      expect(response.status).toBe(200);
      run = response.body;
      expect(['done', 'failed', 'skipped']).toContain(run.status);
    },
    { timeoutMs, intervalMs: 200 },
  );
  return run as RunBody;
}

/** Requests a run and waits for it. */
export async function reconcile(
  reconciler: AppUnderTest,
  customerId: string,
  body: Record<string, unknown>,
  timeoutMs?: number,
): Promise<RunBody> {
  const requested = await requestRun(reconciler, customerId, body);
  return waitForRun(reconciler, requested.id, timeoutMs);
}

/** Source IDs of a customer's live (not soft-deleted) warehouse rows of a table. */
export async function warehouseIds(
  stack: TestStack,
  customerId: string,
  table = 'raise_gift',
): Promise<string[]> {
  const rows: Array<{ source_id: string }> = await stack.dataSource.query(
    `SELECT source_id FROM warehouse.${table} WHERE customer_id = $1 AND deleted_at IS NULL`,
    [customerId],
  );
  return rows.map((r) => r.source_id);
}

/** Messages in a topic right now (sum of partition high watermarks minus low). */
export async function topicMessageCount(stack: TestStack, topic: string): Promise<number> {
  return stack.kafka.messageCount(topic);
}

/** Waits until the simulator's clock-ahead modified times are in the past, then returns now. */
export async function closedNow(sim: Simulator, org: string, resource = 'gift'): Promise<Date> {
  const keys = sim.control.recordKeys(org, resource as never);
  const newest = keys.reduce((max, k) => Math.max(max, Date.parse(k.modifiedDate)), 0);
  const wait = newest + 5 - Date.now();
  if (wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return new Date();
}

export const sorted = (ids: Iterable<string | number>): string[] =>
  [...ids].map(String).sort((a, b) => Number(a) - Number(b));
