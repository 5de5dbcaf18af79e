import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { BulkPushback, PIPELINE_METRICS, ReadinessService } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import {
  customerScope,
  type CustomerScope,
  type ReconciliationKind,
} from '@raise-sync/shared/state';
import { DeletionCheck } from '../checks/deletion.check';
import { RunAbortedError } from '../checks/run-support';
import { WebhookLogCheck } from '../checks/webhook-log.check';
import { WindowCheck } from '../checks/window.check';
import { CrmConsistencyCheck } from '../crm/crm-consistency.check';
import { ScheduleRepository } from '../schedule/schedule.repository';
import { ReplicaIdentity } from './replica-identity';
import { RunSlots, type RunSlot } from './run-slots';
import { RunRepository, type RunResult, type RunView } from './run.repository';
import type { ReconciliationCheck, RunContext, RunOutcome } from './run-types';
import type { ReconcilerConfig } from '../reconciler.config';

const CUSTOMER_OFFBOARDED = 'cancelled: the customer was offboarded';

/** Why a run was stopped when its customer was offboarded while it ran. */
class CustomerOffboarded extends Error {
  constructor() {
    super(CUSTOMER_OFFBOARDED);
  }
}

/**
 * Runs one replica holds at most: RUN_CONCURRENCY working, the rest waiting for their
 * customer's destination lanes (push-back) without a working slot. Bounds the memory of held
 * runs (each keeps the page it was about to republish).
 */
const MAX_RUNS_IN_HAND = 16;

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Executes reconciliation runs: each tick claims pending runs (and runs whose replica died, once
 * their lease expired) with a lease renewed while the run works; the check for the run's kind
 * gets an AbortSignal that fires when the lease is lost or the process shuts down. The outcome
 * (counts, duration, status, error) is stored, exported as metrics and logged in one line with
 * the customer ID. On shutdown unfinished runs are handed back as pending.
 *
 * Push-back: a run whose republish waits for its customer's destination lanes (BulkPushback,
 * in the Republisher) lends its working slot out meanwhile, so the replica claims and works
 * other customers' runs; runs of a customer found held are not claimed while it is.
 */
@Injectable()
export class RunRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private readonly running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private readonly checks: Map<ReconciliationKind, ReconciliationCheck>;
  /** Measures exported per customer and kind, so one a later run lacks is reset to 0. */
  private readonly exported = new Map<string, Set<string>>();
  private readonly tickMs: number;
  private readonly leaseSeconds: number;

  constructor(
    config: ConfigService<ReconcilerConfig, true>,
    private readonly runs: RunRepository,
    private readonly schedules: ScheduleRepository,
    private readonly identity: ReplicaIdentity,
    private readonly readiness: ReadinessService,
    window: WindowCheck,
    deletion: DeletionCheck,
    crm: CrmConsistencyCheck,
    webhookLog: WebhookLogCheck,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly slots: RunSlots,
    private readonly pushback: BulkPushback,
    private readonly log: PinoLogger,
  ) {
    const reconciler = config.get('reconciler', { infer: true });
    this.tickMs = reconciler.tickMs;
    this.leaseSeconds = reconciler.leaseSeconds;
    this.checks = new Map<ReconciliationKind, ReconciliationCheck>([
      ['window', window],
      ['deletion', deletion],
      ['crm-consistency', crm],
      ['webhook-log', webhookLog],
    ]);
    this.log.setContext('runner');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.log.info(
      { owner: this.identity.owner, tickMs: this.tickMs, leaseSeconds: this.leaseSeconds },
      'reconciliation runner started',
    );
  }

  /** Stops claiming, aborts the runs in hand (between pages) and hands them back as pending. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const { abort } of this.running.values()) {
      abort.abort(new Error('shutting down'));
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Runs in progress in this replica. */
  activeRuns(): string[] {
    return [...this.running.keys()];
  }

  async tick(): Promise<void> {
    if (this.stopped || this.ticking || this.readiness.isShuttingDown()) {
      return;
    }
    this.ticking = true;
    try {
      const claimed = await this.runs.claimAcrossCustomers(
        this.identity.owner,
        this.leaseSeconds,
        Math.min(this.slots.available(), MAX_RUNS_IN_HAND - this.running.size),
        this.pushback.heldCustomers(),
      );
      for (const run of claimed) {
        const abort = new AbortController();
        const slot = this.slots.open();
        const done = this.execute(run, abort, slot).finally(() => {
          slot.end();
          this.running.delete(run.id);
        });
        this.running.set(run.id, { done, abort });
      }
    } catch (error) {
      this.log.error({ err: messageOf(error) }, 'claiming reconciliation runs failed; will retry');
    } finally {
      this.ticking = false;
    }
  }

  private async execute(run: RunView, abort: AbortController, slot: RunSlot): Promise<void> {
    const started = process.hrtime.bigint();
    const owner = this.identity.owner;
    // A run's customer_id comes from a uuid column: always a valid scope.
    const customer = customerScope(run.customerId);
    let leaseLost = false;
    const renew = setInterval(
      () => {
        this.runs
          .renew(customer, run.id, owner, this.leaseSeconds)
          .then((renewal) => {
            if (renewal === 'lost' && !leaseLost) {
              leaseLost = true;
              abort.abort(new Error('lease lost'));
            } else if (renewal === 'offboarded' && !abort.signal.aborted) {
              // Offboarding stops the customer's runs: this one ends as skipped at once.
              abort.abort(new CustomerOffboarded());
            }
          })
          .catch(() => undefined); // a failed renewal is no proof of loss; the lease has time left
      },
      Math.max(1000, (this.leaseSeconds * 1000) / 3),
    );
    this.log.info(
      {
        customerId: run.customerId,
        runId: run.id,
        kind: run.kind,
        trigger: run.trigger,
        windowStart: run.windowStart,
        windowEnd: run.windowEnd,
      },
      'reconciliation run started',
    );
    let result: RunResult;
    let note: string | undefined;
    try {
      await slot.take(abort.signal); // at once, unless a held run took the slot back meanwhile
      abort.signal.throwIfAborted();
      const outcome = await this.slots.run(slot, () => this.runCheck(run, customer, abort.signal));
      note = outcome.note;
      result = {
        status: outcome.status,
        counts: outcome.counts,
        // A skipped run says why; a done run has no error.
        error: outcome.status === 'skipped' ? (outcome.note ?? null) : null,
        durationMs: elapsedMs(started),
      };
    } catch (error) {
      const offboarded = abort.signal.reason instanceof CustomerOffboarded;
      result = {
        status: offboarded ? 'skipped' : 'failed',
        counts: {},
        error: (offboarded ? CUSTOMER_OFFBOARDED : messageOf(error)).slice(0, 2000),
        durationMs: elapsedMs(started),
      };
      note = offboarded ? CUSTOMER_OFFBOARDED : undefined;
      if (abort.signal.aborted && (leaseLost || this.stopped)) {
        clearInterval(renew);
        if (this.stopped && !leaseLost) {
          await this.runs.release(customer, run.id, owner).catch(() => undefined);
        }
        this.log.warn(
          {
            customerId: run.customerId,
            runId: run.id,
            kind: run.kind,
            reason: leaseLost ? 'lease lost' : 'shutting down',
          },
          leaseLost
            ? 'reconciliation run stopped: another replica holds it now'
            : 'reconciliation run handed back for another replica',
        );
        return;
      }
      if (!(error instanceof RunAbortedError) && !offboarded) {
        this.log.error(
          { customerId: run.customerId, runId: run.id, kind: run.kind, err: result.error },
          'reconciliation run failed',
        );
      }
    } finally {
      clearInterval(renew);
    }
    const stored = await this.runs
      .finish(customer, run.id, owner, result)
      .catch((error: unknown) => {
        this.log.error(
          { customerId: run.customerId, runId: run.id, err: messageOf(error) },
          'could not store the reconciliation outcome; the run will be retried after its lease',
        );
        return false;
      });
    if (!stored) {
      this.log.warn(
        { customerId: run.customerId, runId: run.id, kind: run.kind },
        'reconciliation outcome not stored: the lease was lost meanwhile',
      );
      return;
    }
    this.export(run, result);
    this.log.info(
      {
        customerId: run.customerId,
        runId: run.id,
        kind: run.kind,
        trigger: run.trigger,
        status: result.status,
        windowStart: run.windowStart,
        windowEnd: run.windowEnd,
        durationMs: Math.round(result.durationMs),
        counts: result.counts,
        ...(note ? { note } : {}),
        ...(result.error ? { error: result.error } : {}),
      },
      'reconciliation run finished',
    );
  }

  private async runCheck(
    run: RunView,
    customer: CustomerScope,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const state = await this.runs.customerState(customer);
    if (!state || state.status === 'offboarded') {
      return { status: 'skipped', counts: {}, note: `customer is ${state?.status ?? 'gone'}` };
    }
    // Nothing older than where the customer's data starts is synced (a customer onboarded from
    // now, or with its history since a date): the checks of changes in a window look no further
    // back either. (The deletion check compares inventories; the webhook log holds deliveries
    // since the subscription only.)
    const windowEnd = new Date(run.windowEnd);
    let windowStart = new Date(run.windowStart);
    const clipped = run.kind === 'window' || run.kind === 'crm-consistency';
    if (clipped && state.syncFrom && state.syncFrom.getTime() > windowStart.getTime()) {
      if (state.syncFrom.getTime() >= windowEnd.getTime()) {
        return {
          status: 'skipped',
          counts: {},
          note: `the window ends before the customer's data starts (${state.syncFrom.toISOString()})`,
        };
      }
      windowStart = new Date(state.syncFrom);
    }
    const check = this.checks.get(run.kind);
    if (!check) {
      throw new Error(`no check for reconciliation kind '${run.kind}'`);
    }
    const ctx: RunContext = {
      runId: run.id,
      customerId: run.customerId,
      kind: run.kind,
      windowStart,
      windowEnd,
      resources: run.resources,
      trigger: run.trigger,
      settings: await this.schedules.settings(customer, run.kind),
      signal,
    };
    return check.run(ctx);
  }

  private export(run: RunView, result: RunResult): void {
    const labels = { customer_id: run.customerId, kind: run.kind };
    this.metrics.reconciliationRuns.inc({ ...labels, status: result.status });
    this.metrics.reconciliationSeconds.observe({ kind: run.kind }, result.durationMs / 1000);
    if (result.status === 'failed') {
      return;
    }
    const key = `${run.customerId}\u0000${run.kind}`;
    const before = this.exported.get(key) ?? new Set<string>();
    for (const measure of before) {
      if (!(measure in result.counts)) {
        this.metrics.reconciliationLast.set({ ...labels, measure }, 0);
      }
    }
    for (const [measure, value] of Object.entries(result.counts)) {
      this.metrics.reconciliationLast.set({ ...labels, measure }, value);
    }
    this.exported.set(key, new Set([...before, ...Object.keys(result.counts)]));
    if (result.status === 'done') {
      this.metrics.reconciliationLastSuccess.set(labels, Date.now() / 1000);
    }
  }
}

function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
