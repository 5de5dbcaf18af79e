import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  bulkGroupId,
  consumerGroupLag,
  liveGroupId,
  RETRY_DELAYS,
  type Topics,
} from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { KAFKA, PIPELINE_METRICS, PinoLogger, TOPICS } from '@raise-sync/shared/service';
import type { Admin, Kafka } from '@raise-sync/shared/kafka';
import { DataSource } from 'typeorm';

export interface LedgerRow {
  customerId: string;
  destinationId: string;
  destination: string;
  received: number;
  delivered: number;
  skipped: number;
  deadLettered: number;
  inRetry: number;
  /** Parked in the destination's lane (breaker open, or the destination was too slow). */
  waiting: number;
  /** 'open' while the destination's breaker is open. */
  breaker: 'open' | 'closed';
  retriesOverdue: number;
  /** received - (delivered + skipped + dead_lettered + in_retry + waiting): 0 when nothing was lost. */
  imbalance: number;
}

const OVERDUE_GRACE_SECONDS = 60;

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
  private admin?: Admin;

  constructor(
    private readonly db: DataSource,
    @Inject(KAFKA) private readonly kafka: Kafka,
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

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.admin?.disconnect();
  }

  /** Consumer lag of the source-topic group and of each retry group. */
  private async refreshLag(): Promise<void> {
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    const groups: Array<[string, string[]]> = [
      [liveGroupId(this.topics.prefix), this.topics.allSourceEvents()],
      [bulkGroupId(this.topics.prefix), this.topics.allBulkEvents()],
      ...RETRY_DELAYS.map((d): [string, string[]] => [
        `${this.topics.prefix}.submitter.retry.${d}`,
        [this.topics.submitRetry(d)],
      ]),
    ];
    for (const [group, topics] of groups) {
      this.metrics.consumerLag.set({ group }, await consumerGroupLag(this.admin, group, topics));
    }
  }

  async snapshot(customerId?: string): Promise<LedgerRow[]> {
    const rows: Array<Record<string, string | number>> = await this.db.query(
      `SELECT d.customer_id, d.id AS destination_id, d.name,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'received'), 0)::bigint AS received,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'delivered'), 0)::bigint AS delivered,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'skipped'), 0)::bigint AS skipped,
              COALESCE(SUM(c.n) FILTER (WHERE c.outcome = 'dead_lettered'), 0)::bigint AS dead_lettered,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NULL) AS in_retry,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NOT NULL) AS waiting,
              (SELECT count(*) FROM retry_entries r WHERE r.destination_id = d.id AND r.parked_at IS NULL
                  AND r.due_at < now() - make_interval(secs => ${OVERDUE_GRACE_SECONDS})) AS overdue,
              COALESCE((SELECT b.state FROM destination_breakers b WHERE b.destination_id = d.id), 'closed') AS breaker
         FROM destinations d LEFT JOIN delivery_counts c ON c.destination_id = d.id
        WHERE ($1::uuid IS NULL OR d.customer_id = $1)
        GROUP BY d.customer_id, d.id, d.name
        ORDER BY d.customer_id, d.name`,
      [customerId ?? null],
    );
    return rows.map((r) => {
      const n = (k: string): number => Number(r[k] ?? 0);
      return {
        customerId: String(r['customer_id']),
        destinationId: String(r['destination_id']),
        destination: String(r['name']),
        received: n('received'),
        delivered: n('delivered'),
        skipped: n('skipped'),
        deadLettered: n('dead_lettered'),
        inRetry: n('in_retry'),
        waiting: n('waiting'),
        breaker: r['breaker'] === 'open' ? 'open' : 'closed',
        retriesOverdue: n('overdue'),
        imbalance:
          n('received') -
          n('delivered') -
          n('skipped') -
          n('dead_lettered') -
          n('in_retry') -
          n('waiting'),
      };
    });
  }

  async refresh(): Promise<void> {
    await this.refreshLag().catch((error: unknown) =>
      this.log.warn({ err: error }, 'consumer lag refresh failed'),
    );
    try {
      for (const row of await this.snapshot()) {
        const labels = { customer_id: row.customerId, destination: row.destination };
        this.metrics.ledger.set({ ...labels, outcome: 'received' }, row.received);
        this.metrics.ledger.set({ ...labels, outcome: 'delivered' }, row.delivered);
        this.metrics.ledger.set({ ...labels, outcome: 'skipped' }, row.skipped);
        this.metrics.ledger.set({ ...labels, outcome: 'dead_lettered' }, row.deadLettered);
        this.metrics.ledger.set({ ...labels, outcome: 'in_retry' }, row.inRetry);
        this.metrics.ledger.set({ ...labels, outcome: 'waiting' }, row.waiting);
        this.metrics.destinationPaused.set(labels, row.breaker === 'open' ? 1 : 0);
        this.metrics.ledgerImbalance.set(labels, row.imbalance);
        this.metrics.retriesOverdue.set(labels, row.retriesOverdue);
      }
      const open: Array<{ customer_id: string; name: string; n: string; oldest: string }> =
        await this.db.query(
          `SELECT l.customer_id, d.name, count(*) AS n,
                  EXTRACT(EPOCH FROM now() - min(l.first_failed_at)) AS oldest
             FROM dead_letters l JOIN destinations d ON d.id = l.destination_id
            WHERE l.status = 'open' GROUP BY l.customer_id, d.name`,
        );
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
