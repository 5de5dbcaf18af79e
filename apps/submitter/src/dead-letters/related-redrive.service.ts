import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS } from '@raise-sync/shared/service';
import { PinoLogger } from 'nestjs-pino';
import { primaryEmailOf } from '@raise-sync/sources';
import { DeadLetterRepository } from './dead-letter.repository';
import { DeadLetterService } from './dead-letter.service';

/** How often open dead letters waiting for a related record are checked against its known state. */
const SWEEP_INTERVAL_MS = 30_000;
const SWEEP_LIMIT = 500;

/**
 * Dead letters caused by another record's missing data (`waiting_for`, e.g. a CRM+ gift whose
 * donor had no email) are re-driven without a person: at once when the submitter stores a version
 * of that record with the data (RecordCompletion.learn), and by a sweep every 30 s that catches
 * what a restart or a race between partitions left open (a donor learned just before its gift
 * was dead-lettered). The re-driven copy goes through the first retry topic with a fresh attempt
 * budget and is completed again on the way, now with the donor's email.
 */
@Injectable()
export class RelatedRedrive implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly repository: DeadLetterRepository,
    private readonly deadLetters: DeadLetterService,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('related-redrive');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Re-drives the customer's open dead letters waiting for these donors. Never throws. */
  async donorsReady(customerId: string, donorIds: readonly string[]): Promise<number> {
    if (donorIds.length === 0) {
      return 0;
    }
    try {
      const { retried } = await this.deadLetters.retry({
        customerId,
        waitingFor: donorIds.map((id) => `donor:${id}`),
      });
      if (retried > 0) {
        this.metrics.deadLettersRedriven.inc({ customer_id: customerId }, retried);
        this.log.info({ customerId, retried }, 'dead letters re-driven: their donor changed');
      }
      return retried;
    } catch (error) {
      // Left open: the sweep (or an admin retry) takes them later.
      this.log.warn(
        { customerId, err: error instanceof Error ? error.message : String(error) },
        're-drive of dead letters failed; the sweep tries again',
      );
      return 0;
    }
  }

  /** Open dead letters whose donor is now known with an email. */
  async sweep(): Promise<void> {
    if (this.sweeping) {
      return;
    }
    this.sweeping = true;
    try {
      const rows = await this.repository.waitingForKnownDonorsAcrossCustomers(SWEEP_LIMIT);
      const ready = new Map<string, string[]>();
      for (const row of rows.filter((r) => primaryEmailOf(r.model) !== null)) {
        ready.set(row.customer_id, [...(ready.get(row.customer_id) ?? []), row.source_id]);
      }
      for (const [customerId, donorIds] of ready) {
        await this.donorsReady(customerId, donorIds);
      }
    } catch (error) {
      this.log.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'dead-letter re-drive sweep failed',
      );
    } finally {
      this.sweeping = false;
    }
  }
}
