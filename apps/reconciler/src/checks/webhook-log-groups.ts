import { compareSourceIds, type RaiseWebhookLogEntry } from '@raise-sync/sources';

/** Where a webhook-log check stopped reading: the newest log entry it saw. */
export interface LogCheckpoint {
  id: string;
  /** That entry's attempt time (informative; the id decides). */
  at: string;
}

/** One event Raise could not deliver: the attempts of one (eventType, contextId). */
export interface FailedDelivery {
  eventType: number;
  contextId: string;
  /** Attempts of the group in the entries read. */
  attempts: number;
  /** Attempt time of the earliest failed attempt read. */
  firstFailedAt: Date;
}

/** A stored checkpoint, or null when absent or not of the expected shape. */
export function readCheckpoint(value: unknown): LogCheckpoint | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const { id, at } = value as { id?: unknown; at?: unknown };
  return typeof id === 'string' && /^[0-9]+$/.test(id)
    ? { id, at: typeof at === 'string' ? at : '' }
    : null;
}

/**
 * The deliveries whose newest attempt failed. Attempts are grouped by (eventType, contextId)
 * (the log list shows no payload, so the record's version is not visible): the retries of one
 * event share that key, and when a later event of the same kind for the same record was
 * delivered, it carried a state at least as new. So a group is failed exactly when its newest
 * attempt (highest log id) failed. Result in ascending order of that newest attempt.
 */
export function failedDeliveries(entries: readonly RaiseWebhookLogEntry[]): FailedDelivery[] {
  const groups = new Map<
    string,
    { newest: RaiseWebhookLogEntry; attempts: number; firstFailedAt: Date | null }
  >();
  for (const entry of entries) {
    const key = `${entry.eventType}:${entry.contextId}`;
    const group = groups.get(key);
    const failedAt = entry.success ? null : entry.createdAt;
    if (!group) {
      groups.set(key, { newest: entry, attempts: 1, firstFailedAt: failedAt });
      continue;
    }
    group.attempts += 1;
    if (compareSourceIds(entry.id, group.newest.id) > 0) {
      group.newest = entry;
    }
    if (failedAt && (!group.firstFailedAt || failedAt < group.firstFailedAt)) {
      group.firstFailedAt = failedAt;
    }
  }
  return [...groups.values()]
    .filter((g) => !g.newest.success)
    .sort((a, b) => compareSourceIds(a.newest.id, b.newest.id))
    .map((g) => ({
      eventType: g.newest.eventType,
      contextId: g.newest.contextId,
      attempts: g.attempts,
      firstFailedAt: g.firstFailedAt ?? g.newest.createdAt,
    }));
}
