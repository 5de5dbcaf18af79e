import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SourceEvent } from '@raise-sync/shared/events';
import { isRetriedLeadershipError, KAFKA_CLIENT_LOG_COMPONENT } from '@raise-sync/shared/kafka';
import {
  MIGRATIONS,
  auditDetailSql,
  revertMigrations,
  runMigrations,
} from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  expectEventually,
  freePort,
  startApp,
  stackEnv,
  useTestStack,
  type RunningApp,
} from '@raise-sync/testing';
import {
  ADMIN_TOKEN,
  SECRETS_KEY,
  createCustomer,
  giftEvent,
  ledgerOf,
  openPublisher,
  startSubmitter,
  type SubmitterUnderTest,
} from './support';

/**
 * The release the rolling upgrade starts from: the last commit before migration
 * TypedAuditDetail1763800014000 (issue 14; the one before it started from 4dd1e59, the last
 * commit before LeanSyncState1763800013000). Move it forward when a later release adds
 * migrations whose rolling deploy needs proving.
 */
const PREVIOUS_RELEASE = '813ac6973fe40dc9d9fa55b01271b475af62e6e0';
const ROOT = resolve(__dirname, '../../..');

jest.setTimeout(600_000);

/** Builds the previous release's submitter from git into a temporary directory. */
function buildPreviousRelease(): { dir: string; entry: string; migrations: number } {
  const dir = mkdtempSync(join(tmpdir(), 'raise-sync-previous-'));
  execSync(
    `git -C ${ROOT} archive ${PREVIOUS_RELEASE} apps/submitter libs tools/copy-assets.cjs tsconfig.base.json package.json | tar -x -C ${dir}`,
  );
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const bin = (name: string): string => join(ROOT, 'node_modules/.bin', name);
  execFileSync(bin('tsc'), ['-p', 'apps/submitter/tsconfig.app.json'], { cwd: dir });
  execFileSync(bin('tsc-alias'), ['-p', 'apps/submitter/tsconfig.app.json'], { cwd: dir });
  execFileSync(process.execPath, ['tools/copy-assets.cjs', 'dist/apps/submitter'], { cwd: dir });
  const entry = join(dir, 'dist/apps/submitter/apps/submitter/src/main.js');
  if (!existsSync(entry)) {
    throw new Error(`the previous release built no ${entry}`);
  }
  // The previous release's migrations, by name, from its source (not its build's output).
  const index = execFileSync('git', [
    '-C',
    ROOT,
    'show',
    `${PREVIOUS_RELEASE}:libs/shared/src/state/migrations/index.ts`,
  ]).toString();
  const known = new Set(index.match(/\b[A-Za-z]+\d{13}\b/g) ?? []);
  const migrations = MIGRATIONS.filter((m) => known.has(m.name)).length;
  if (migrations === 0) {
    throw new Error(`found no migrations of ${PREVIOUS_RELEASE} in its migrations/index.ts`);
  }
  return { dir, entry, migrations };
}

/**
 * Error lines an app logged, except the Kafka client's own report of a heartbeat answered "the group is
 * rebalancing" (the broker telling members to rejoin, as it must when one joins or leaves). The
 * previous release also logged the batch that rebalance interrupted as an error
 * (`oldRelease`); this release logs it as a warning.
 */
const errorsIn = (app: RunningApp, oldRelease = false): Array<Record<string, unknown>> =>
  app
    .logs()
    .filter((l) => l['level'] === 'error' || l['level'] === 'fatal')
    .filter(
      (l) =>
        !(
          [l['logger'], l['component']].includes(KAFKA_CLIENT_LOG_COMPONENT) &&
          /rebalancing/.test(String(l['error']))
        ),
    )
    .filter(
      (l) =>
        !(
          oldRelease &&
          l['msg'] === 'batch left unresolved for redelivery' &&
          /rebalancing/.test(JSON.stringify(l['err']))
        ),
    )
    // The previous release logs the leadership answers its Kafka client retries as errors; this
    // release logs them as warnings (isRetriedLeadershipError), so only the old one is excused.
    .filter(
      (l) =>
        !(
          oldRelease &&
          [l['logger'], l['component']].includes(KAFKA_CLIENT_LOG_COMPONENT) &&
          isRetriedLeadershipError(l)
        ),
    );

/** Whether this clone holds the previous release (a shallow clone may not). */
function previousReleaseAvailable(): boolean {
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', `${PREVIOUS_RELEASE}^{commit}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

// Without the previous release's commit there is nothing to upgrade from: the test says so
// loudly and is skipped, rather than failing a shallow clone's whole suite.
const AVAILABLE = previousReleaseAvailable();
if (!AVAILABLE) {
  process.stderr.write(
    `rolling-upgrade.e2e: SKIPPED, commit ${PREVIOUS_RELEASE} (the previous release) is not in this clone's history; clone without --depth to run it\n`,
  );
}

(AVAILABLE ? describe : describe.skip)(
  'submitter: rolling upgrade from the previous release',
  () => {
    const stack = useTestStack();
    const prefix = `${stack.prefix}-upgrade`;
    let sim: Simulator;
    let previous: { dir: string; entry: string; migrations: number };
    let old: RunningApp | undefined;
    let current: SubmitterUnderTest | undefined;

    beforeAll(async () => {
      previous = buildPreviousRelease();
      sim = await startSimulator({ seed: 29 });
    });

    afterAll(async () => {
      await old?.stop('SIGKILL');
      await current?.app.stop('SIGKILL');
      await sim?.stop();
      if (previous) {
        rmSync(previous.dir, { recursive: true, force: true });
      }
    });

    it('runs old and new replicas side by side on the migrated schema, losing and doubling nothing', async () => {
      // The database as the previous release left it: this release's migrations reverted.
      const added = MIGRATIONS.length - previous.migrations;
      expect(added).toBeGreaterThan(0);
      await revertMigrations(stack.databaseUrl, added);

      const env = {
        ...stackEnv(stack, prefix),
        SECRETS_KEY,
        ADMIN_TOKEN,
        SUBMITTER_RETRY_DELAYS_MS: '1000,2000,4000',
        SUBMITTER_DELIVERY_TIMEOUT_MS: '5000',
        SUBMITTER_PARTITIONS_CONCURRENCY: '3',
        LOG_LEVEL: 'info',
      };
      old = startApp('submitter', env, await freePort(), previous.entry);
      await old.waitUntilReady();
      const c = await createCustomer(stack, sim, `up-${randomBytes(3).toString('hex')}`, [
        'warehouse',
        'crm-plus',
      ]);
      const crmAccount = c.destinations['crm-plus']?.account ?? '';
      const publisher = await openPublisher(stack, prefix);
      const newest = new Map<string, SourceEvent>();
      let published = 0;
      const send = async (events: SourceEvent[]): Promise<void> => {
        await publisher.send(events);
        published += events.length;
        for (const e of events) {
          newest.set(e.recordId, e);
        }
      };
      const warehouseRows = async (): Promise<Map<string, string>> => {
        const rows: Array<{ source_id: string; event_id: string }> = await stack.dataSource.query(
          `SELECT source_id, event_id FROM warehouse.raise_gift WHERE customer_id = $1`,
          [c.id],
        );
        return new Map(rows.map((r) => [r.source_id, r.event_id]));
      };
      const later = (e: SourceEvent, ms: number): SourceEvent =>
        giftEvent(c.id, {
          id: Number(e.recordId),
          modifiedAt: new Date(e.sourceModifiedAt.getTime() + ms),
          amount: `${(ms / 1000 + 30).toFixed(2)}`,
        });

      // 1. The old release alone delivers the first batch; this release's migration runs while
      //    it works (as the migrate job does during a rolling deploy).
      const first = Array.from({ length: 1500 }, () => giftEvent(c.id));
      await send(first);
      await expectEventually(
        async () => expect((await warehouseRows()).size).toBeGreaterThan(200),
        {
          timeoutMs: 60_000,
          intervalMs: 100,
        },
      );
      await runMigrations(stack.databaseUrl);

      // 2. A replica of this release joins the same consumer groups; both work the next batch:
      //    new records and newer versions of records the old one wrote.
      current = await startSubmitter(stack, prefix, { SUBMITTER_PARTITIONS_CONCURRENCY: '3' });
      await send([
        ...Array.from({ length: 1500 }, () => giftEvent(c.id)),
        ...first.slice(0, 750).map((e) => later(e, 60_000)),
      ]);

      // 3. The old replica leaves; this release alone takes the rest.
      await expectEventually(
        async () => expect((await warehouseRows()).size).toBeGreaterThanOrEqual(3000),
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      expect(await old.stop('SIGTERM')).toBe(0);
      await send([
        ...Array.from({ length: 500 }, () => giftEvent(c.id)),
        ...first.slice(500, 1000).map((e) => later(e, 120_000)),
      ]);

      // Every record at both destinations in its newest version, once.
      await expectEventually(
        async () => {
          const rows = await warehouseRows();
          expect(rows.size).toBe(newest.size);
          for (const [id, event] of newest) {
            expect([id, rows.get(id)]).toEqual([id, event.eventId]);
          }
          const gifts = new Map(
            sim.destinations.crmGifts(crmAccount).map((g) => [g.transactionId, Number(g.amount)]),
          );
          expect(gifts.size).toBe(newest.size);
          for (const [id, event] of newest) {
            const amount = Number((event.record as { amount?: string } | null)?.amount);
            expect([id, gifts.get(id)]).toEqual([id, amount]);
          }
        },
        { timeoutMs: 180_000, intervalMs: 1000 },
      );
      // The ledger balances at each destination, whichever release handled an event (a chunk the
      // old replica had not committed when its partitions moved is received again, and counted
      // as a duplicate); every delivered version left its audit row.
      await expectEventually(
        async () => {
          const ledger = await ledgerOf(current as SubmitterUnderTest, c.id);
          expect(ledger).toHaveLength(2);
          for (const row of ledger) {
            expect({
              destination: row.destination,
              counted: row.received >= published,
              imbalance: row.imbalance,
              inRetry: row.inRetry,
              waiting: row.waiting,
            }).toEqual({
              destination: row.destination,
              counted: true,
              imbalance: 0,
              inRetry: 0,
              waiting: 0,
            });
          }
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      const audit: Array<{ n: string }> = await stack.dataSource.query(
        `SELECT count(*) AS n FROM audit_log WHERE customer_id = $1 AND destination_id = $2 AND to_status = 'confirmed'`,
        [c.id, c.destinations.warehouse?.id],
      );
      const warehouseLedger = (await ledgerOf(current, c.id)).find(
        (r) => r.destination === 'warehouse',
      );
      expect(Number(audit[0]?.n)).toBe(warehouseLedger?.delivered);
      // Each of those rows reads with its delivery detail, whether the old release wrote it into
      // the jsonb column or this one into the typed columns.
      const details: Array<{ detail: Record<string, unknown> }> = await stack.dataSource.query(
        `SELECT ${auditDetailSql('a')} AS detail FROM audit_log a
          WHERE a.customer_id = $1 AND a.destination_id = $2 AND a.to_status = 'confirmed'`,
        [c.id, c.destinations.warehouse?.id],
      );
      const incomplete = details.filter(
        ({ detail }) =>
          typeof detail['attempts'] !== 'number' ||
          typeof detail['topic'] !== 'string' ||
          typeof detail['partition'] !== 'number' ||
          !/^\d+$/.test(String(detail['offset'])) ||
          typeof detail['capturedAt'] !== 'string',
      );
      expect({ rows: details.length, incomplete: incomplete.slice(0, 3) }).toEqual({
        rows: warehouseLedger?.delivered,
        incomplete: [],
      });
      await publisher.close();

      // Neither release logged an error on the way.
      expect(errorsIn(old, true)).toEqual([]);
      expect(errorsIn(current.app)).toEqual([]);
    });
  },
);
