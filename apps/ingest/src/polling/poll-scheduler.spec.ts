import type { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import type { ReadinessService } from '@raise-sync/shared/service';
import type { PinoLogger } from 'nestjs-pino';
import type { IngestConfig } from '../ingest.config';
import type { ClaimedPoll, PollScheduleRepository } from './poll-schedule.repository';
import { PollScheduler } from './poll-scheduler.service';
import type { Poller } from './poller.service';

const CUSTOMER = '6f1c1d64-3f0e-4d5e-9a51-0d3c9d7f2a10';

/** A scheduler over `due` rows with concurrency 2 and a tick timer that never fires. */
function schedulerOver(due: ClaimedPoll[]) {
  const claims: number[] = [];
  const polled: string[] = [];
  const schedule = {
    claimDueAcrossCustomers: (_owner: string, _lease: number, limit: number) => {
      claims.push(limit);
      return Promise.resolve(due.splice(0, limit));
    },
    renew: () => Promise.resolve(true),
    release: () => Promise.resolve(),
  } as unknown as PollScheduleRepository;
  const poller = {
    poll: async (target: { resource: string }) => {
      await new Promise((r) => setImmediate(r));
      polled.push(target.resource);
      return { outcome: 'ok', records: 0, checkpoint: null };
    },
  } as unknown as Poller;
  const config = {
    get: () => ({ pollTickMs: 3_600_000, pollConcurrency: 2, pollLeaseSeconds: 60 }),
  } as unknown as ConfigService<IngestConfig, true>;
  const metrics = { pollCycles: { inc: () => undefined } } as unknown as PipelineMetrics;
  const log = {
    setContext: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  } as unknown as PinoLogger;
  const readiness = { isShuttingDown: () => false } as unknown as ReadinessService;
  const scheduler = new PollScheduler(config, schedule, poller, readiness, metrics, log);
  return { scheduler, claims, polled };
}

const row = (resource: string): ClaimedPoll =>
  ({
    customer_id: CUSTOMER,
    source: 'raise',
    resource,
    poll_interval_seconds: 900,
  }) as ClaimedPoll;

const settle = async (scheduler: PollScheduler): Promise<void> => {
  for (let i = 0; i < 100 && scheduler.activeCount() > 0; i += 1) {
    await new Promise((r) => setImmediate(r));
  }
};

describe('PollScheduler', () => {
  it('works through a backlog without waiting for the next tick: a full claim claims again as passes end', async () => {
    const { scheduler, claims, polled } = schedulerOver(
      ['donor', 'gift', 'campaign', 'recurring_gift', 'user'].map(row),
    );
    await scheduler.tick(); // the only tick: the timer (an hour) never fires here
    await settle(scheduler);
    expect(polled.sort()).toEqual(['campaign', 'donor', 'gift', 'recurring_gift', 'user']);
    expect(claims.length).toBeGreaterThanOrEqual(3);
  });

  it('claims nothing more after a claim that left free slots (nothing else is due)', async () => {
    const { scheduler, claims, polled } = schedulerOver([row('donor')]);
    await scheduler.tick();
    await settle(scheduler);
    expect(polled).toEqual(['donor']);
    expect(claims).toEqual([2]);
  });
});
