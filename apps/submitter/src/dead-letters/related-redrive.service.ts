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
import { customerScope } from '@raise-sync/shared/state';
import { SourceFixes } from '../source-fixes/source-fix.service';
import { SourceFixRepository } from '../source-fixes/source-fix.repository';
import { DeadLetterService } from './dead-letter.service';

/** How often open dead letters waiting for a related record are checked against its known state. */
const SWEEP_INTERVAL_MS = 30_000;
const SWEEP_LIMIT = 500;

/**
 * Records held for a fix in the source (`needs_source_fix`, e.g. a CRM+ gift whose donor has no
 * email) are sent on without a person: at once when the submitter stores a version of that
 * donor with an email (RecordCompletion.learn), and by a sweep every 30 s that catches what a
 * restart or a race between partitions left (a donor learned just before its gift was held),
 * and resolves the holds a newer version superseded (a donor, a volunteer, a gift fixed in the
 * source and delivered). A released copy goes through the first retry topic with a fresh attempt
 * budget and is completed again on the way, now with the donor's email (SourceFixes). Dead
 * letters of earlier releases waiting for a donor (`waiting_for`) are re-driven the same way.
 */
@Injectable()
export class RelatedRedrive implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly repository: DeadLetterRepository,
    private readonly deadLetters: DeadLetterService,
    private readonly holds: SourceFixRepository,
    private readonly sourceFixes: SourceFixes,
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

  /**
   * Releases the customer's holds (and re-drives its open dead letters of earlier releases)
   * waiting for these donors, now stored with an email. Never throws.
   */
  async donorsReady(customerId: string, donorIds: readonly string[]): Promise<number> {
    if (donorIds.length === 0) {
      return 0;
    }
    try {
      // One read in the common case, where nothing waits for these donors.
      const scope = customerScope(customerId);
      const awaited = await this.sourceFixes.awaitedDonors(scope, donorIds);
      const released = await this.sourceFixes.donorsFixed(scope, awaited.holds);
      const { retried } =
        awaited.deadLetters.length > 0
          ? await this.deadLetters.retry({ customerId, waitingFor: awaited.deadLetters })
          : { retried: 0 };
      if (retried > 0) {
        this.metrics.deadLettersRedriven.inc({ customer_id: customerId }, retried);
        this.log.info({ customerId, retried }, 'dead letters re-driven: their donor changed');
      }
      return released + retried;
    } catch (error) {
      // Left waiting: the sweep (or an admin retry) takes them later.
      this.log.warn(
        { customerId, err: error instanceof Error ? error.message : String(error) },
        'release of records waiting for their donor failed; the sweep tries again',
      );
      return 0;
    }
  }

  /**
   * Holds superseded by a newer version, holds and open dead letters whose donor is now known
   * with an email.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) {
      return;
    }
    this.sweeping = true;
    try {
      await this.holds.resolveSupersededAcrossCustomers(SWEEP_LIMIT);
      const rows = [
        ...(await this.holds.waitingForKnownDonorsAcrossCustomers(SWEEP_LIMIT)).map((r) => ({
          customer_id: r.customerId,
          source_id: r.donorId,
          model: r.model,
        })),
        ...(await this.repository.waitingForKnownDonorsAcrossCustomers(SWEEP_LIMIT)),
      ];
      const ready = new Map<string, Set<string>>();
      for (const row of rows.filter((r) => primaryEmailOf(r.model) !== null)) {
        ready.set(row.customer_id, (ready.get(row.customer_id) ?? new Set()).add(row.source_id));
      }
      for (const [customerId, donorIds] of ready) {
        await this.donorsReady(customerId, [...donorIds]);
      }
    } catch (error) {
      this.log.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'source-fix release sweep failed',
      );
    } finally {
      this.sweeping = false;
    }
  }
}
