import type { ConfigService } from '@nestjs/config';
import type { SourceEvent } from '@raise-sync/shared/events';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import type { BulkPushback, LaneState } from '@raise-sync/shared/service';
import type { PinoLogger } from 'nestjs-pino';
import type { BackfillPage, SourceReader } from '../source/source-reader.service';
import type { CustomerScope } from '@raise-sync/shared/state';
import type { BackfillRepository, ClaimedRange } from '../state/backfill.repository';
import type { BackfillPublisher } from './backfill-publisher.service';
import type { CustomerCredentialsReader } from './credentials.service';
import { RangeRunner } from './range-runner.service';
import type { BackfillerConfig } from '../backfiller.config';

// The service entry point loads the configuration when imported; the runner needs only these.
jest.mock('@raise-sync/shared/service', () => ({
  PIPELINE_METRICS: Symbol('PIPELINE_METRICS'),
  PUSHBACK_RECHECK_MS: 5000,
  BulkPushback: class {},
  EventProducer: class {},
  PinoLogger: class {},
}));

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

const range = (id: string, customerId: string): ClaimedRange => ({
  id,
  run_id: `run-${id}`,
  customer_id: customerId,
  source: 'raise',
  resource: 'gift',
  modified_from: null,
  modified_to: null,
  range_start: '1',
  range_end: '300',
  cursor: null,
  records_done: '0',
  pages_done: '0',
  high_water_at: null,
  high_water_id: null,
});

/** A RangeRunner over stubs: three pages of 100 per range, lanes as `lanes[customer]` says. */
function setup() {
  const lanes: Record<string, boolean> = { [A]: false, [B]: false };
  const calls: string[] = [];
  const hooks: { onPublish?: (customerId: string) => void } = {};
  const failures: unknown[] = [];
  /** Customers the repository was called for (each call's scope). */
  const scopes = new Set<string>();
  const backfills = {
    checkpoint: (
      scope: CustomerScope,
      id: string,
      _owner: string,
      _lease: number,
      page: { cursor: string },
    ) => {
      scopes.add(scope.customerId);
      calls.push(`checkpoint ${id} ${page.cursor}`);
      return Promise.resolve(true);
    },
    releaseRange: (
      scope: CustomerScope,
      id: string,
      _owner: string,
      backoffSeconds: number,
      error: string | null,
    ) => {
      scopes.add(scope.customerId);
      calls.push(`release ${id} ${backoffSeconds}s ${error}`);
      return Promise.resolve();
    },
    finishRange: (scope: CustomerScope, id: string) => {
      scopes.add(scope.customerId);
      calls.push(`finish ${id}`);
      return Promise.resolve({ runDone: false, checkpoint: null, customerLive: false });
    },
    renewRange: () => Promise.resolve(true),
  } as unknown as BackfillRepository;
  const reader = {
    // eslint-disable-next-line @typescript-eslint/require-await
    async *pages(scope: { customerId: string }): AsyncGenerator<BackfillPage> {
      for (const last of [100, 200, 300]) {
        calls.push(`read ${scope.customerId === A ? 'A' : 'B'} ${last}`);
        yield {
          events: [{ customerId: scope.customerId } as SourceEvent],
          records: 100,
          lastId: String(last),
          highWater: null,
        };
      }
    },
  } as unknown as SourceReader;
  const publisher = {
    waitForRoom: () => Promise.resolve(0),
    publish: (events: SourceEvent[]) => {
      calls.push(`publish ${events[0]?.customerId === A ? 'A' : 'B'}`);
      hooks.onPublish?.(events[0]?.customerId ?? '');
      return Promise.resolve();
    },
  } as unknown as BackfillPublisher;
  const credentials = {
    forSource: (customerId: string) => Promise.resolve({ customerId, token: 't' }),
  } as unknown as CustomerCredentialsReader;
  const yields: Array<{ state: LaneState; caller: string }> = [];
  const pushback = {
    state: (customerId: string): Promise<LaneState> =>
      Promise.resolve({
        customerId,
        waiting: lanes[customerId] ? 11 : 0,
        limit: 10,
        held: lanes[customerId] ?? false,
      }),
    noteYield: (state: LaneState, caller: string) => yields.push({ state, caller }),
  } as unknown as BulkPushback;
  const counter = { inc: () => undefined };
  const metrics = {
    backfillPages: counter,
    backfillRecords: counter,
    backfillFailures: { inc: (labels: unknown) => failures.push(labels) },
  } as unknown as PipelineMetrics;
  const log = {
    setContext: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    debug: () => undefined,
  } as unknown as PinoLogger;
  const config = {
    get: () => ({ leaseSeconds: 60, pageSize: 100, logEveryPages: 50 }),
  } as unknown as ConfigService<BackfillerConfig, true>;
  const runner = new RangeRunner(
    config,
    backfills,
    reader,
    publisher,
    credentials,
    pushback,
    metrics,
    log,
  );
  const run = (r: ClaimedRange) => runner.run(r, 'me', () => false, new AbortController().signal);
  return { runner, run, lanes, calls, failures, yields, hooks, scopes };
}

describe('RangeRunner push-back: a customer with deep lanes hands its ranges back', () => {
  it("hands A's range back before reading anything while B's range runs through", async () => {
    const t = setup();
    t.lanes[A] = true;
    // The two ranges share the replica's workers; A's gives its worker back at once.
    const [a, b] = await Promise.all([t.run(range('ra', A)), t.run(range('rb', B))]);
    expect(a).toBe('held');
    expect(b).toBe('done');
    const ofA = t.calls.filter((c) => c.includes(' ra') || c.includes(' A'));
    expect(ofA).toEqual(['release ra 5s null']); // no read, no publish, no error, 5 s hand-back
    expect(t.calls.filter((c) => c.includes(' B'))).toEqual([
      'read B 100',
      'publish B',
      'read B 200',
      'publish B',
      'read B 300',
      'publish B',
    ]);
    expect(t.calls).toContain('finish rb');
    expect(t.failures).toEqual([]); // held is not a failure
    expect(t.yields).toEqual([
      { state: { customerId: A, waiting: 11, limit: 10, held: true }, caller: 'backfill' },
    ]);
    expect([...t.scopes].sort()).toEqual([A, B]); // each range's writes are scoped to its customer
  });

  it('stops after the checkpointed page when the lanes fill up mid-range, and resumes from there', async () => {
    const t = setup();
    t.hooks.onPublish = (customerId) => {
      t.lanes[customerId] = true; // A's own page fills its lanes past the limit
    };
    expect(await t.run(range('ra', A))).toBe('held');
    expect(t.calls).toEqual([
      'read A 100',
      'publish A',
      'checkpoint ra 100',
      'release ra 5s null', // handed back with its cursor at 100: the next claim reads 101-
    ]);
    expect(t.failures).toEqual([]);

    t.hooks.onPublish = undefined;
    t.lanes[A] = false;
    expect(await t.run({ ...range('ra', A), cursor: '100' })).toBe('done');
    expect(t.calls.filter((c) => c.startsWith('publish'))).toHaveLength(1 + 3);
  });
});
