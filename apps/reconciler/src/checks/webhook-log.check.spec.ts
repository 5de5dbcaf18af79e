import { customerScope } from '@raise-sync/shared/state';
import type { RaiseWebhookLogEntry, RaiseWebhookLogPage } from '@raise-sync/sources';
import type { RunContext } from '../runs/run-types';
import { WebhookLogCheck } from './webhook-log.check';

// The service barrel loads the configuration at import; the check only needs these names.
jest.mock('@raise-sync/shared/service', () => ({
  PIPELINE_METRICS: 'PIPELINE_METRICS',
  PinoLogger: class {},
  EventProducer: class {},
  TOPICS: 'TOPICS',
  countRefusedEvent: () => undefined,
}));
jest.mock('@raise-sync/sources/service', () => ({ SourceClients: class {} }));

const CUSTOMER = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

let logId = 0;
const entry = (
  eventType: number,
  contextId: number,
  success: boolean,
  at = '2026-11-20T09:00:00Z',
): RaiseWebhookLogEntry => ({
  id: String(++logId),
  webhookId: '1',
  eventType,
  eventTypeDisplay: null,
  contextId: String(contextId),
  success,
  httpStatusCode: success ? 202 : null,
  createdAt: new Date(at),
});

const gift = (id: number) => ({
  id,
  donorId: null,
  recurringGiftId: null,
  amount: 10,
  currency: 'USD',
  date: '2026-11-20T08:00:00Z',
  status: 1,
  statusText: 'Success',
  isTestMode: false,
  isAnonymous: false,
  paymentType: 'card',
  transactionId: null,
  campaignName: 'Spring',
  createdDate: '2026-11-20T08:00:00Z',
  modifiedDate: '2026-11-20T08:30:00Z',
});

function setUp(options: {
  log: RaiseWebhookLogEntry[];
  records: Record<string, unknown>;
  failGet?: boolean;
  checkpoint?: { id: string; at: string };
  heldVersion?: Date;
}) {
  const customers = {
    credentials: jest.fn(() => Promise.resolve({ raise: { apiToken: 'raise-token' } })),
  };
  const page: RaiseWebhookLogPage = {
    entries: [...options.log].reverse(),
    malformed: 0,
    malformedReasons: [],
    received: options.log.length,
    total: options.log.length,
    skip: 0,
  };
  const get = jest.fn(
    (_creds: unknown, resource: string, id: string, _signal?: unknown, _options?: unknown) =>
      options.failGet
        ? Promise.reject(new Error('Raise answered 503'))
        : Promise.resolve(options.records[`${resource}:${id}`] ?? null),
  );
  const clients = {
    raise: {
      streamWebhookLog: function* () {
        yield page;
      },
      get,
    },
  };
  const upserts = jest.fn((..._args: unknown[]) => Promise.resolve([]));
  const deletes = jest.fn((..._args: unknown[]) => Promise.resolve([]));
  const mergeSettings = jest.fn((..._args: unknown[]) => Promise.resolve(true));
  const syncState = {
    newestVersions: jest.fn(() =>
      Promise.resolve(
        new Map(
          options.heldVersion
            ? options.log
                .filter((e) => e.eventType === 12)
                .map((e) => [e.contextId, (options.heldVersion as Date).getTime()])
            : [],
        ),
      ),
    ),
  };
  const check = new WebhookLogCheck(
    customers as never,
    syncState as never,
    { get: () => ({ pageSize: 500, lookupConcurrency: 4 }) } as never,
    clients as never,
    { upserts, deletes } as never,
    { mergeSettings } as never,
    { sourceRecordsMalformed: { inc: jest.fn() } } as never,
    { setContext: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn() } as never,
  );
  const ctx: RunContext = {
    runId: 'run-1',
    customerId: CUSTOMER,
    kind: 'webhook-log',
    windowStart: new Date('2026-11-19T09:00:00Z'),
    windowEnd: new Date('2026-11-20T10:00:00Z'),
    resources: null,
    trigger: 'schedule',
    settings: options.checkpoint ? { webhookLogCheckpoint: options.checkpoint } : {},
    signal: new AbortController().signal,
  };
  return { check, ctx, get, upserts, deletes, mergeSettings };
}

describe('WebhookLogCheck', () => {
  afterEach(() => jest.restoreAllMocks());

  it('publishes a delete for a failed delete the source confirms with 404, and moves the checkpoint', async () => {
    const log = [
      entry(10, 501, true),
      entry(12, 502, false, '2026-11-20T09:10:00Z'),
      entry(12, 502, false, '2026-11-20T09:10:02Z'),
    ];
    const { check, ctx, deletes, upserts, mergeSettings } = setUp({ log, records: {} });
    const outcome = await check.run(ctx);
    expect(outcome.counts).toMatchObject({
      log_entries_read: 3,
      failed_deliveries: 1,
      failed_deletes: 1,
      deletes_published: 1,
      upserts_republished: 0,
    });
    expect(upserts).not.toHaveBeenCalled();
    expect(deletes).toHaveBeenCalledWith(
      'webhook-log',
      CUSTOMER,
      'raise',
      'gift',
      [{ recordId: '502', deletedAt: new Date('2026-11-20T09:10:00Z') }],
      ctx.signal,
    );
    expect(mergeSettings).toHaveBeenCalledWith(customerScope(CUSTOMER), 'webhook-log', {
      webhookLogCheckpoint: { id: String(logId), at: '2026-11-20T09:10:02.000Z' },
    });
  });

  it('times a delete after the newest version the sync state holds when that is later', async () => {
    const log = [entry(12, 502, false, '2026-11-20T09:10:00Z')];
    const held = new Date('2026-11-20T09:20:00Z');
    const { check, ctx, deletes } = setUp({ log, records: {}, heldVersion: held });
    await check.run(ctx);
    expect(deletes).toHaveBeenCalledWith(
      'webhook-log',
      CUSTOMER,
      'raise',
      'gift',
      [{ recordId: '502', deletedAt: new Date(held.getTime() + 1) }],
      ctx.signal,
    );
  });

  it('republishes the current state of a failed upsert, and of a "deleted" record that exists', async () => {
    const log = [entry(11, 601, false), entry(12, 602, false), entry(11, 603, false)];
    const { check, ctx, upserts, deletes, get } = setUp({
      log,
      records: { 'gift:601': gift(601), 'gift:602': gift(602) },
    });
    const outcome = await check.run(ctx);
    expect(outcome.counts).toMatchObject({
      failed_deliveries: 3,
      upserts_republished: 2,
      deleted_but_present: 1,
      upserts_gone_at_source: 1,
      deletes_published: 0,
    });
    expect(deletes).not.toHaveBeenCalled();
    const published = (upserts.mock.calls[0] as unknown[])[4] as Array<{ recordId: string }>;
    expect(published.map((r) => r.recordId).sort()).toEqual(['601', '602']);
    // Gifts are read with their donor, like a poll.
    expect(get.mock.calls[0]?.[4]).toEqual({ includeDetails: true });
  });

  it('ignores what the checkpoint already covered and deliveries that succeeded on a retry', async () => {
    const old = entry(12, 700, false);
    const log = [old, entry(12, 701, false), entry(12, 701, true)];
    const { check, ctx, deletes, get } = setUp({
      log,
      records: {},
      checkpoint: { id: old.id, at: '2026-11-20T09:00:00.000Z' },
    });
    const outcome = await check.run(ctx);
    expect(outcome.counts).toMatchObject({ log_entries_read: 2, failed_deliveries: 0 });
    expect(get).not.toHaveBeenCalled();
    expect(deletes).not.toHaveBeenCalled();
  });

  it('fails the run without publishing anything or moving the checkpoint when a source read fails', async () => {
    const log = [entry(12, 801, false), entry(11, 802, false)];
    const { check, ctx, upserts, deletes, mergeSettings } = setUp({
      log,
      records: {},
      failGet: true,
    });
    await expect(check.run(ctx)).rejects.toThrow('Raise answered 503');
    expect(upserts).not.toHaveBeenCalled();
    expect(deletes).not.toHaveBeenCalled();
    expect(mergeSettings).not.toHaveBeenCalled();
  });
});
