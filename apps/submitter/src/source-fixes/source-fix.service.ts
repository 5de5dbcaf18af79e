import { Inject, Injectable } from '@nestjs/common';
import type { SourceProblem } from '@raise-sync/shared';
import { EventProducer, RETRY_DELAYS, type Topics } from '@raise-sync/shared/kafka';
import type { PipelineMetrics } from '@raise-sync/shared/observability';
import { PIPELINE_METRICS, TOPICS } from '@raise-sync/shared/service';
import type { CustomerScope } from '@raise-sync/shared/state';
import { PinoLogger } from 'nestjs-pino';
import { resendMessage } from '../dead-letters/resend-message';
import {
  SourceFixRepository,
  type SourceFixGroupRow,
  type SourceFixHoldRow,
} from './source-fix.repository';

/** Holds released per call (a donor with thousands of gifts is released over several calls). */
const RELEASE_BATCH = 500;

/** One cause at one destination, as the admin API and the console show it. */
export interface SourceFixGroup extends SourceFixGroupRow {
  /** E.g. "69 donors have no email" or "337 gifts wait for 69 donors without an email". */
  summary: string;
}

export interface SourceFixesView {
  /** Records held, all causes and destinations. */
  total: number;
  groups: SourceFixGroup[];
  /** The oldest open holds (at most 100). */
  holds: SourceFixHoldRow[];
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The sentence that says what a group waits for. */
export function summaryOf(group: SourceFixGroupRow): string {
  const noun = (resource: string, n: number): string =>
    resource === 'user'
      ? plural(n, 'volunteer', 'volunteers')
      : resource === 'recurring_gift'
        ? plural(n, 'recurring gift', 'recurring gifts')
        : plural(n, resource, `${resource}s`);
  const problem: SourceProblem = group.problem;
  switch (problem) {
    case 'contact_without_email':
      return `${noun(group.resource, group.records)} ${group.records === 1 ? 'has' : 'have'} no email`;
    case 'donor_without_email':
      return `${noun(group.resource, group.records)} ${group.records === 1 ? 'waits' : 'wait'} for ${plural(group.waitingFor, 'donor', 'donors')} without an email`;
    case 'gift_without_email':
      return `${noun(group.resource, group.records)} ${group.records === 1 ? 'has' : 'have'} neither a donor nor an email`;
  }
}

/**
 * Records held for a fix in the source (`needs_source_fix`): what they wait for, grouped by
 * cause, and their release once the source is fixed, with no person involved. When the
 * submitter stores a donor's version with an email, the gifts that waited for it go through the
 * first retry topic with a fresh attempt budget (completed with the donor on the way), and the
 * donor's own hold is resolved by the fixed version that reached the destination.
 */
@Injectable()
export class SourceFixes {
  constructor(
    private readonly repository: SourceFixRepository,
    private readonly producer: EventProducer,
    @Inject(TOPICS) private readonly topics: Topics,
    @Inject(PIPELINE_METRICS) private readonly metrics: PipelineMetrics,
    private readonly log: PinoLogger,
  ) {
    this.log.setContext('source-fixes');
  }

  async view(scope: CustomerScope): Promise<SourceFixesView> {
    const groups = (await this.repository.groups(scope)).map((g) => ({
      ...g,
      summary: summaryOf(g),
    }));
    return {
      total: groups.reduce((n, g) => n + g.records, 0),
      groups,
      holds: await this.repository.list(scope, null, 100),
    };
  }

  /** Which of these donors holds (and dead letters of earlier releases) wait for. */
  awaitedDonors(
    scope: CustomerScope,
    donorIds: readonly string[],
  ): Promise<{ holds: string[]; deadLetters: string[] }> {
    return this.repository.awaited(
      scope,
      donorIds.map((id) => `donor:${id}`),
    );
  }

  /**
   * These donors (`awaited`: `donor:<id>`, as awaitedDonors answers) are now stored with an
   * email: resolves their own holds (superseded by the fixed version) and releases the holds
   * waiting for them. Answers how many were released.
   */
  async donorsFixed(scope: CustomerScope, awaited: readonly string[]): Promise<number> {
    if (awaited.length === 0) {
      return 0;
    }
    await this.repository.resolveSuperseded(
      scope,
      'donor',
      awaited.map((w) => w.slice('donor:'.length)),
    );
    let released = 0;
    for (;;) {
      const holds = await this.repository.release(scope, awaited, RELEASE_BATCH);
      if (holds.length === 0) {
        break;
      }
      // The ledger moved first (needs_source_fix -> in retry): the retry consumer may deliver a
      // copy at once and must find its retry entry. Copies that could not be published are put
      // back on hold, and the next fix or the sweep releases them.
      try {
        await this.producer.publishRaw(
          this.topics.submitRetry(RETRY_DELAYS[0]),
          holds.map((hold) =>
            resendMessage({
              destinationId: hold.destinationId,
              messageKey: hold.messageKey,
              payload: hold.payload,
              headers: hold.headers,
              firstFailedAt: hold.heldAt,
              fallbackPosition: { topic: 'unknown', partition: 0, offset: '0' },
              lastError: `released: ${hold.problem} fixed in the source`,
            }),
          ),
        );
      } catch (error) {
        for (const hold of holds) {
          await this.repository.unrelease(scope, hold);
        }
        throw error;
      }
      released += holds.length;
      if (holds.length < RELEASE_BATCH) {
        break;
      }
    }
    if (released > 0) {
      this.metrics.sourceFixesReleased.inc({ customer_id: scope.customerId }, released);
      this.log.info(
        { customerId: scope.customerId, released, donors: awaited.length },
        'records held for a fix in the source were released: their donor now has an email',
      );
    }
    return released;
  }
}
