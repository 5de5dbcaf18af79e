import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  bulkGroupId,
  KafkaConnection,
  liveGroupId,
  RETRY_DELAYS,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { customerScope } from '@raise-sync/shared/state';
import { LedgerRepository, type LedgerRow } from './ledger.repository';

export type { LedgerRow } from './ledger.repository';

/**
 * Exports the delivery ledger kept in PostgreSQL (so it holds across restarts and replicas):
 * per customer and destination, received = delivered + skipped + dead-lettered + in retry +
 * waiting in a lane, whether the destination's breaker is open, the
 * imbalance (alert when not 0), retries overdue by more than a minute (the watchdog), and the
 * open dead letters with the age of the oldest.
 */
@Injectable()
export class LedgerMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: LedgerRepository,
    private readonly kafka: KafkaConnection,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('ledger');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.refresh(), 5000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Consumer lag of the source-topic group and of each retry group. */
  private async refreshLag(): Promise<void> {
    const groups: Array<[string, string[]]> = [
      [liveGroupId(this.topics.prefix), this.topics.allSourceEvents()],
      [bulkGroupId(this.topics.prefix), this.topics.allBulkEvents()],
      ...RETRY_DELAYS.map((d): [string, string[]] => [
        `${this.topics.prefix}.submitter.retry.${d}`,
        [this.topics.submitRetry(d)],
      ]),
    ];
    for (const [group, topics] of groups) {
      this.metrics.consumerLag.set({ group }, await this.kafka.groupLag(group, topics));
    }
  }

  /** The ledger of one customer, or of every customer without one. */
  async snapshot(customerId?: string): Promise<LedgerRow[]> {
    return customerId
      ? this.repository.snapshot(customerScope(customerId))
      : this.repository.snapshotAcrossCustomers();
  }

  async refresh(): Promise<void> {
    await this.refreshLag().catch((error: unknown) =>
      this.log.warn({ err: error }, 'consumer lag refresh failed'),
    );
    try {
      for (const row of await this.repository.snapshotAcrossCustomers()) {
        const labels = { customer_id: row.customerId, destination: row.destination };
        this.metrics.ledger.set({ ...labels, outcome: 'received' }, row.received);
        this.metrics.ledger.set({ ...labels, outcome: 'delivered' }, row.delivered);
        this.metrics.ledger.set({ ...labels, outcome: 'skipped' }, row.skipped);
        this.metrics.ledger.set({ ...labels, outcome: 'dead_lettered' }, row.deadLettered);
        this.metrics.ledger.set({ ...labels, outcome: 'needs_source_fix' }, row.needsSourceFix);
        this.metrics.ledger.set({ ...labels, outcome: 'in_retry' }, row.inRetry);
        this.metrics.ledger.set({ ...labels, outcome: 'waiting' }, row.waiting);
        this.metrics.destinationPaused.set(labels, row.breaker === 'open' ? 1 : 0);
        this.metrics.ledgerImbalance.set(labels, row.imbalance);
        this.metrics.retriesOverdue.set(labels, row.retriesOverdue);
      }
      const open = await this.repository.openDeadLettersAcrossCustomers();
      this.metrics.deadLettersOpen.reset();
      this.metrics.deadLetterOldestSeconds.reset();
      for (const row of open) {
        const labels = { customer_id: row.customer_id, destination: row.name };
        this.metrics.deadLettersOpen.set(labels, Number(row.n));
        this.metrics.deadLetterOldestSeconds.set(labels, Number(row.oldest));
      }
    } catch (error) {
      this.log.warn({ err: error }, 'ledger refresh failed');
    }
  }
}
