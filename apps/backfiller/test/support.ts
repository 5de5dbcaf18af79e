import { randomUUID } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import { newSourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { EventCodec, KafkaConnection, EventProducer, topicsFor } from '@raise-sync/shared/kafka';
import { CustomerRepository, DestinationEntity, customerScope } from '@raise-sync/shared/state';
import type { CreateOrgOptions, Simulator } from '@raise-sync/simulators';
import {
  adminClient,
  expectEventually,
  freePort,
  startApp,
  type AdminCall,
  type RunningApp,
  type TestStack,
  stackEnv,
  startIngestApp,
  startStackApp,
} from '@raise-sync/testing';

/** One admin token and one sealing key for every app a test file starts. */
export const ADMIN_TOKEN = randomBytes(24).toString('hex');
export const SECRETS_KEY = randomBytes(32).toString('hex');
const box = SecretBox.fromHex(SECRETS_KEY);

export interface BackfillerUnderTest {
  app: RunningApp;
  admin: AdminCall;
}

/**
 * The real submitter, delivering the source topics of `topicPrefix` to the customers' destinations,
 * with the simulated Raise and VOMO as its sources (it reads the donor of a webhook gift from Raise).
 */
export async function startSubmitter(
  stack: TestStack,
  sim: Simulator,
  topicPrefix: string,
  env: Record<string, string> = {},
): Promise<RunningApp> {
  return startStackApp('submitter', stack, topicPrefix, {
    SECRETS_KEY,
    ADMIN_TOKEN,
    RAISE_API_URL: sim.raiseUrl,
    VOMO_API_URL: sim.vomoUrl,
    SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/** Starts the built backfiller against the test stack and the simulator's Raise and VOMO. */
export async function startBackfiller(
  stack: TestStack,
  sim: Simulator,
  topicPrefix: string,
  env: Record<string, string> = {},
): Promise<BackfillerUnderTest> {
  const app = startApp(
    'backfiller',
    {
      ...stackEnv(stack, topicPrefix),
      SECRETS_KEY,
      ADMIN_TOKEN,
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
      BACKFILL_TICK_MS: '200',
      LOG_LEVEL: 'info',
      ...env,
    },
    await freePort(),
  );
  await app.waitUntilReady();
  return { app, admin: adminClient(app.url, ADMIN_TOKEN) };
}

export interface RaiseCustomer {
  id: string;
  org: string;
}

/**
 * A simulator org and its customer (sealed Raise token, and VOMO's if asked; a warehouse
 * destination), written to the
 * state store directly; the onboarding API has its own tests.
 */
export async function createRaiseCustomer(
  stack: TestStack,
  sim: Simulator,
  org: string,
  data: Omit<CreateOrgOptions, 'id' | 'raiseToken' | 'vomoToken'>,
  options: { vomo?: boolean } = {},
): Promise<RaiseCustomer> {
  const raiseToken = `raise-${org}`;
  const vomoToken = `vomo-${org}`;
  sim.control.createOrg({ id: org, raiseToken, vomoToken, ...data });
  const customer = await new CustomerRepository(stack.dataSource, box).create(
    customerScope(randomUUID()),
    {
      name: org,
      status: 'live',
      credentials: {
        raise: { apiToken: raiseToken },
        ...(options.vomo ? { vomo: { apiToken: vomoToken } } : {}),
      },
    },
  );
  const destinations = stack.dataSource.getRepository(DestinationEntity);
  await destinations.save(
    destinations.create({
      customerId: customer.id,
      kind: 'warehouse',
      name: 'warehouse',
      config: {},
      secrets: null,
      enabled: true,
    }),
  );
  return { id: customer.id, org };
}

export interface RunRow {
  id: string;
  status: string;
  records_total: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  modified_to: Date | null;
  high_water_at: Date | null;
  high_water_id: string | null;
  last_error: string | null;
}

export interface RangeRow {
  id: string;
  range_start: string;
  range_end: string | null;
  cursor: string | null;
  status: string;
  records_done: string;
  records_total: string | null;
  pages_done: string;
  lease_owner: string | null;
}

export async function runRow(stack: TestStack, runId: string): Promise<RunRow> {
  const rows = await stack.dataSource.query<RunRow[]>(`SELECT * FROM backfill_runs WHERE id = $1`, [
    runId,
  ]);
  if (!rows[0]) {
    throw new Error(`run ${runId} not found`);
  }
  return rows[0];
}

export function rangeRows(stack: TestStack, runId: string): Promise<RangeRow[]> {
  return stack.dataSource.query<RangeRow[]>(
    `SELECT id, range_start, range_end, cursor, status, records_done, records_total, pages_done, lease_owner
       FROM backfill_jobs WHERE run_id = $1 ORDER BY range_start`,
    [runId],
  );
}

export async function waitForRunStatus(
  stack: TestStack,
  runId: string,
  status: string,
  timeoutMs: number,
): Promise<RunRow> {
  let row: RunRow | undefined;
  await expectEventually(
    async () => {
      row = await runRow(stack, runId);
      expect(row.status).toBe(status);
    },
    { timeoutMs, intervalMs: 250 },
  );
  return row as RunRow;
}

/** Source IDs of a customer's gifts in the warehouse (soft-deleted ones included). */
export async function warehouseGiftIds(stack: TestStack, customerId: string): Promise<string[]> {
  const rows = await stack.dataSource.query<Array<{ source_id: string }>>(
    `SELECT source_id FROM warehouse.raise_gift WHERE customer_id = $1`,
    [customerId],
  );
  return rows.map((r) => r.source_id);
}

export async function warehouseGiftCount(stack: TestStack, customerId: string): Promise<number> {
  const rows = await stack.dataSource.query<Array<{ n: string }>>(
    `SELECT count(*) AS n FROM warehouse.raise_gift WHERE customer_id = $1`,
    [customerId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The ID-ordered pages the simulator served to backfill ranges (`take` = the page size). */
export function rangePages(
  sim: Simulator,
  org: string,
  pageSize: number,
): Array<{ firstId: number; lastId: number; count: number }> {
  return (sim.control.stats(org).pages.gift ?? [])
    .filter((p) => p.endpoint === 'query' && p.sortBy.toLowerCase() === 'id' && p.take === pageSize)
    .filter((p) => p.firstId !== null && p.lastId !== null)
    .map((p) => ({ firstId: p.firstId as number, lastId: p.lastId as number, count: p.count }));
}

/** The real ingest (webhooks, polling, onboarding API) on the same topics and state store. */
export async function startIngest(
  stack: TestStack,
  sim: Simulator,
  topicPrefix: string,
  env: Record<string, string> = {},
): Promise<{ app: RunningApp; admin: AdminCall }> {
  const app = await startIngestApp(stack, topicPrefix, sim, {
    SECRETS_KEY,
    ADMIN_TOKEN,
    POLL_TICK_MS: '200',
    LOG_LEVEL: 'info',
    ...env,
  });
  return { app, admin: adminClient(app.url, ADMIN_TOKEN) };
}

/**
 * Changes of a customer's gifts as webhooks bring them: origin `webhook`, written to the LIVE
 * gift topic (not the bulk lane the backfills use), one newer version per ID with `amount`.
 */
export async function publishLiveGiftChanges(
  stack: TestStack,
  topicPrefix: string,
  customerId: string,
  ids: string[],
  amount: string,
): Promise<void> {
  const modifiedAt = new Date();
  const events = ids.map((id) =>
    newSourceEvent({
      customerId,
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      origin: 'webhook',
      recordId: id,
      sourceModifiedAt: modifiedAt,
      record: { ...SAMPLE_RECORDS.gift, id, amount, modifiedDate: modifiedAt },
    } as never),
  );
  const producer = new EventProducer(
    KafkaConnection.create({ brokers: stack.kafkaBrokers, clientId: 'backfiller-e2e-live' }),
    new EventCodec(stack.registryUrl),
  );
  await producer.connect();
  try {
    await producer.publish(topicsFor(topicPrefix).sourceEvents('raise', 'gift'), events);
  } finally {
    await producer.disconnect();
  }
}
