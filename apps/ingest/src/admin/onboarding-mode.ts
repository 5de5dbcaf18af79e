import { BadRequestException } from '@nestjs/common';
import type { CustomerStatus, OnboardingMode } from '@raise-sync/shared/state';
import type { CreateCustomerDto } from './admin.dto';

/** What a create-customer request's onboarding mode comes to (see resolveOnboarding). */
export interface OnboardingPlan {
  mode: OnboardingMode;
  /** The status the customer starts in: backfilling while a backfill runs, else live. */
  status: CustomerStatus;
  /** Where its data starts (null: all of its history). */
  syncFrom: Date | null;
  /** The backfill window, when the mode backfills (resources are resolved by the caller). */
  backfill: { resources?: string[]; modifiedFrom: string | null; modifiedTo: string | null } | null;
  /** from_now: every poll checkpoint starts here, so no poll reads the history. */
  checkpointsAt: Date | null;
}

/**
 * Reads the onboarding mode of a create request; 400 for a contradictory one. Without `mode`,
 * a `backfill` block means full_history (history_since with its modifiedFrom, or with
 * historySince), and no block means poll_history: no backfill, the first polls read the
 * history, as before modes existed. Every mode but the backfilling ones starts live; those
 * turn live when the backfiller hands over.
 */
export function resolveOnboarding(dto: CreateCustomerDto, now: Date): OnboardingPlan {
  const since = dto.historySince ?? dto.backfill?.modifiedFrom;
  if (
    dto.historySince &&
    dto.backfill?.modifiedFrom &&
    dto.historySince !== dto.backfill.modifiedFrom
  ) {
    throw new BadRequestException(
      'historySince and backfill.modifiedFrom disagree: give one of them',
    );
  }
  const mode: OnboardingMode =
    dto.mode ?? (since ? 'history_since' : dto.backfill ? 'full_history' : 'poll_history');
  const backfill = (modifiedFrom: string | null): OnboardingPlan['backfill'] => ({
    ...(dto.backfill?.resources ? { resources: dto.backfill.resources } : {}),
    modifiedFrom,
    modifiedTo: dto.backfill?.modifiedTo ?? null,
  });
  switch (mode) {
    case 'full_history':
      if (since) {
        throw new BadRequestException(
          'mode full_history reads the whole history; for history since a date use mode history_since',
        );
      }
      return {
        mode,
        status: 'backfilling',
        syncFrom: null,
        backfill: backfill(null),
        checkpointsAt: null,
      };
    case 'history_since': {
      if (!since) {
        throw new BadRequestException('mode history_since needs historySince (ISO 8601)');
      }
      const from = new Date(since);
      if (from.getTime() > now.getTime()) {
        throw new BadRequestException('historySince must not be in the future');
      }
      return {
        mode,
        status: 'backfilling',
        syncFrom: from,
        backfill: backfill(since),
        checkpointsAt: null,
      };
    }
    case 'from_now':
    case 'poll_history':
      if (dto.backfill || dto.historySince) {
        throw new BadRequestException(
          `mode ${mode} reads no history by backfill: drop backfill and historySince`,
        );
      }
      return mode === 'from_now'
        ? { mode, status: 'live', syncFrom: now, backfill: null, checkpointsAt: now }
        : { mode, status: 'live', syncFrom: null, backfill: null, checkpointsAt: null };
  }
}
