import type { ConfigService } from '@nestjs/config';
import type {
  DeliveryResult,
  DestinationAdapter,
  DestinationContext,
} from '@raise-sync/destinations';
import {
  DestinationUnavailableError,
  NeedsSourceFixError,
  RecordRejectedError,
} from '@raise-sync/shared';
import { newSourceEvent } from '@raise-sync/shared/events';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { SourceUnavailableError } from '@raise-sync/sources';
import type { AdapterRegistry } from '@raise-sync/destinations';
import type { DeliveryDecider } from './delivery-decider';
import { DeliveryEngine } from './delivery-engine.service';
import type { DeliveryLanes, ParkReason } from './delivery-lanes.service';
import type { DeliveryRecorder } from './delivery-recorder';
import { DeliveryWriter, NotStarted, StillInFlight } from './delivery-writer';
import type { Outcome, WorkItem } from './outcome';
import type { SubmitterConfig } from '../submitter.config';

// The service barrel loads the configuration at import; these classes only need the names.
jest.mock('@raise-sync/shared/service', () => ({
  PIPELINE_METRICS: 'PIPELINE_METRICS',
  PinoLogger: class {},
  EventProducer: class {},
  TOPICS: 'TOPICS',
}));

const DELAYS: [number, number, number] = [30_000, 300_000, 3_600_000];
const MAX_ATTEMPTS = 4;
const MAX_WAIT_MS = 24 * 3_600_000;

const config = {
  get: () => ({
    retryDelaysMs: DELAYS,
    maxAttempts: MAX_ATTEMPTS,
    maxWaitMs: MAX_WAIT_MS,
    deliveryTimeoutMs: 5_000,
    keyConcurrency: 4,
    taskBudgetMs: 1_000,
  }),
} as unknown as ConfigService<SubmitterConfig, true>;

const metrics = {
  deliverySeconds: { observe: () => undefined },
} as unknown as PipelineMetrics;

const ctx: DestinationContext = {
  customerId: 'c1',
  destinationId: 'd1',
  name: 'hooks',
  kind: 'webhook',
  config: {},
  secrets: {},
};

let seq = 0;
function workItem(extra: Partial<WorkItem> = {}): WorkItem {
  seq += 1;
  const id = `g${seq}`;
  return {
    event: newSourceEvent({
      customerId: 'c1',
      source: 'raise',
      resource: 'gift',
      operation: 'upsert',
      origin: 'webhook',
      recordId: id,
      sourceModifiedAt: new Date(1_700_000_000_000 + seq),
      record: { ...SAMPLE_RECORDS.gift, id },
    } as never),
    message: {
      topic: 'source',
      partition: 0,
      offset: String(seq),
      key: null,
      value: null,
      headers: {},
      timestamp: '0',
    },
    attemptsMade: 0,
    firstFailedAt: null,
    fromRetry: false,
    ...extra,
  };
}

/** Lanes that hold nothing unless told, and note what the engine tells them. */
function stubLanes(hold: ParkReason | null = null) {
  const calls: string[] = [];
  const lanes = {
    holdReason: () => hold,
    isOpen: () => hold === 'breaker_open',
    succeeded: () => {
      calls.push('succeeded');
      return Promise.resolve();
    },
    failed: (_ctx: DestinationContext, error: string, probe: boolean) => {
      calls.push(`failed:${error}:${probe}`);
      return Promise.resolve();
    },
    noteParked: (_ctx: DestinationContext, n: number) => calls.push(`noteParked:${n}`),
  };
  return { lanes: lanes as unknown as DeliveryLanes, calls };
}

function engineWith(results: Array<DeliveryResult | Error>, hold: ParkReason | null = null) {
  const { lanes, calls } = stubLanes(hold);
  const sent: string[] = [];
  const adapter = {
    kind: 'webhook',
    accepts: () => true,
    deliver: (_ctx: DestinationContext, events: Array<{ recordId: string }>) => {
      sent.push(...events.map((e) => e.recordId));
      return Promise.resolve(events.map(() => results.shift() as DeliveryResult | Error));
    },
  } as unknown as DestinationAdapter;
  const adapters = { get: () => adapter } as unknown as AdapterRegistry;
  const decider = {
    decide: (_ctx: DestinationContext, _a: DestinationAdapter, items: WorkItem[]) =>
      Promise.resolve({ decisions: items.map(() => ({ kind: 'deliver' })), previous: new Map() }),
  } as unknown as DeliveryDecider;
  const settled: Outcome[][] = [];
  const recorder = {
    settle: (_ctx: DestinationContext, outcomes: Outcome[]) => {
      calls.push('settle');
      settled.push(outcomes);
      return Promise.resolve();
    },
  } as unknown as DeliveryRecorder;
  const writer = new DeliveryWriter(metrics, config, lanes);
  const engine = new DeliveryEngine(adapters, decider, writer, recorder, lanes, config);
  return { engine, calls, sent, settled };
}

describe('DeliveryWriter.classify', () => {
  const { lanes } = stubLanes();
  const writer = new DeliveryWriter(metrics, config, lanes);

  it('dead-letters a permanent refusal at once, counting the attempt', () => {
    const outcome = writer.classify(workItem(), new RecordRejectedError('email is invalid'));
    expect(outcome).toMatchObject({
      status: 'dead_lettered',
      reason: 'record_rejected',
      attempts: 1,
      error: 'email is invalid',
    });
  });

  it('holds a record the source must fix: no dead letter, no attempt spent, the cause kept', () => {
    const outcome = writer.classify(
      workItem({ attemptsMade: 2, fromRetry: true, firstFailedAt: new Date() }),
      new NeedsSourceFixError('CRM+ needs an email', 'donor_without_email', 'donor:48213'),
    );
    expect(outcome).toMatchObject({
      status: 'needs_source_fix',
      reason: 'donor_without_email',
      problem: 'donor_without_email',
      waitingFor: 'donor:48213',
      attempts: 2,
      error: 'CRM+ needs an email',
    });
  });

  it('sends a retriable failure to the tier of its attempt, due after that delay', () => {
    const before = Date.now();
    const outcome = writer.classify(
      workItem({ attemptsMade: 1, fromRetry: true, firstFailedAt: new Date() }),
      new DestinationUnavailableError('503'),
    );
    expect(outcome).toMatchObject({
      status: 'retry',
      reason: 'destination_unavailable',
      attempts: 2,
      tier: 1,
    });
    const dueAt = outcome.status === 'retry' ? outcome.dueAt.getTime() : 0;
    expect(dueAt).toBeGreaterThanOrEqual(before + DELAYS[1]);
    expect(dueAt).toBeLessThanOrEqual(Date.now() + DELAYS[1]);
  });

  it('dead-letters a retriable failure once the attempts are used up', () => {
    const outcome = writer.classify(
      workItem({ attemptsMade: MAX_ATTEMPTS - 1, fromRetry: true, firstFailedAt: new Date() }),
      new DestinationUnavailableError('503'),
    );
    expect(outcome).toMatchObject({
      status: 'dead_lettered',
      reason: 'attempts_exhausted',
      attempts: MAX_ATTEMPTS,
      error: 'destination_unavailable: 503',
    });
  });

  it('spends no attempt on a wait the destination asked for, and waits as long as it asked', () => {
    const outcome = writer.classify(
      workItem({ attemptsMade: 2, fromRetry: true, firstFailedAt: new Date() }),
      DestinationUnavailableError.pacing('429', 200_000),
    );
    // 200 s fits the 5 min tier, whatever the attempt.
    expect(outcome).toMatchObject({
      status: 'retry',
      reason: 'rate_limited',
      attempts: 2,
      tier: 1,
    });
  });

  it('dead-letters a retry that would be due beyond the longest wait', () => {
    const outcome = writer.classify(
      workItem({
        attemptsMade: 1,
        fromRetry: true,
        firstFailedAt: new Date(Date.now() - MAX_WAIT_MS),
      }),
      new DestinationUnavailableError('503'),
    );
    expect(outcome).toMatchObject({ status: 'dead_lettered', reason: 'max_wait_exceeded' });
  });
});

describe('DeliveryEngine routing', () => {
  it('reports a delivery to the breaker before recording it', async () => {
    const { engine, calls, settled } = engineWith([
      { outcome: 'delivered', destinationRecordId: 'x1' },
    ]);
    const summary = await engine.deliver(ctx, [workItem()]);
    expect(summary).toEqual({ settled: 1, pacedUntil: 0 });
    expect(calls).toEqual(['succeeded', 'settle']);
    expect(settled[0]?.[0]).toMatchObject({
      status: 'delivered',
      attempts: 1,
      destinationRecordId: 'x1',
    });
  });

  it('parks new events without sending them while the breaker is open', async () => {
    const { engine, calls, sent, settled } = engineWith([], 'breaker_open');
    const summary = await engine.deliver(ctx, [workItem(), workItem()]);
    expect(sent).toEqual([]);
    expect(summary.settled).toBe(0);
    expect(settled[0]?.map((o) => [o.status, o.reason, o.attempts])).toEqual([
      ['parked', 'breaker_open', 0],
      ['parked', 'breaker_open', 0],
    ]);
    expect(calls).toEqual(['settle', 'noteParked:2']);
  });

  it('keeps a paced lane event in its lane without an attempt or a breaker failure', async () => {
    const { engine, calls, settled } = engineWith([
      DestinationUnavailableError.pacing('429', 7_000),
    ]);
    const before = Date.now();
    const item = workItem({
      attemptsMade: 2,
      fromRetry: true,
      fromLane: true,
      firstFailedAt: new Date(),
    });
    const summary = await engine.deliver(ctx, [item]);
    expect(summary.settled).toBe(0);
    expect(summary.pacedUntil).toBeGreaterThanOrEqual(before + 7_000);
    expect(settled[0]?.[0]).toMatchObject({
      status: 'parked',
      reason: 'lane_waiting',
      attempts: 2,
      error: '429',
    });
    expect(calls).toEqual(['settle']);
  });

  it('counts a live failure against the breaker and schedules its retry', async () => {
    const { engine, calls, settled } = engineWith([new DestinationUnavailableError('503')]);
    const summary = await engine.deliver(ctx, [workItem()]);
    expect(summary.settled).toBe(1);
    expect(calls).toEqual(['failed:503:false', 'settle']);
    expect(settled[0]?.[0]).toMatchObject({ status: 'retry', attempts: 1, tier: 0 });
  });

  it('parks a gift whose donor was not read in time, sending nothing and spending no attempt', async () => {
    const { engine, calls, sent, settled } = engineWith([]);
    const paced = new SourceUnavailableError('donor 7 not read in this pass', undefined, {
      pacing: true,
    });
    const live = workItem({ unavailable: paced });
    const lane = workItem({
      unavailable: paced,
      attemptsMade: 1,
      fromRetry: true,
      fromLane: true,
      firstFailedAt: new Date(),
    });
    const before = Date.now();
    const summary = await engine.deliver(ctx, [live, lane]);
    expect(sent).toEqual([]);
    expect(summary.settled).toBe(0);
    // The lane asks the source again after a pause, not at once.
    expect(summary.pacedUntil).toBeGreaterThanOrEqual(before + 1000);
    expect(settled[0]?.map((o) => [o.status, o.reason, o.attempts])).toEqual([
      ['parked', 'slow_source', 0],
      ['parked', 'slow_source', 1],
    ]);
    expect(calls).toEqual(['settle', 'noteParked:1']);
  });

  it('retries a gift whose donor could not be read because the source failed', async () => {
    const { engine, sent, settled } = engineWith([]);
    const summary = await engine.deliver(ctx, [
      workItem({ unavailable: new SourceUnavailableError('Raise answered 503') }),
    ]);
    expect(sent).toEqual([]);
    expect(summary.settled).toBe(1);
    expect(settled[0]?.[0]).toMatchObject({ status: 'retry', attempts: 1, tier: 0 });
  });
});

describe('DeliveryWriter.write within the task budget', () => {
  /** An HTTP adapter that answers each event after `ms`, counting what it was sent. */
  function slowAdapter(ms: number) {
    const sent: string[] = [];
    const adapter = {
      kind: 'webhook',
      accepts: () => true,
      deliver: async (_ctx: DestinationContext, events: Array<{ recordId: string }>) => {
        sent.push(...events.map((e) => e.recordId));
        await new Promise((resolve) => setTimeout(resolve, ms));
        return events.map(() => ({ outcome: 'delivered', destinationRecordId: null }));
      },
    } as unknown as DestinationAdapter;
    return { adapter, sent };
  }

  it('leaves a request still in flight at the end of the budget to finish on its own', async () => {
    const { lanes } = stubLanes();
    const writer = new DeliveryWriter(metrics, config, lanes);
    const { adapter, sent } = slowAdapter(400);
    const started = Date.now();
    const results = await writer.write(ctx, adapter, [workItem()], 100, false);
    expect(Date.now() - started).toBeLessThan(350);
    expect(sent).toHaveLength(1);
    expect(results[0]).toBeInstanceOf(StillInFlight);
    // It may be sent again from the lane once the request has surely ended (delivery timeout).
    expect((results[0] as StillInFlight).until).toBeGreaterThanOrEqual(started + 5_000);
  });

  it('starts nothing outside a lane that is expected to outlast the budget', async () => {
    const { lanes } = stubLanes();
    const writer = new DeliveryWriter(metrics, config, lanes);
    const { adapter, sent } = slowAdapter(150);
    // A lane pass waits for its request, and teaches the writer how long one takes.
    const lane = await writer.write(
      ctx,
      adapter,
      [workItem({ fromLane: true, fromRetry: true, firstFailedAt: new Date() })],
      100,
      false,
    );
    expect(lane[0]).toMatchObject({ outcome: 'delivered' });
    const live = await writer.write(ctx, adapter, [workItem(), workItem()], 100, false);
    expect(sent).toHaveLength(1);
    expect(live.map((r) => r instanceof NotStarted && !(r instanceof StillInFlight))).toEqual([
      true,
      true,
    ]);
  });
});
