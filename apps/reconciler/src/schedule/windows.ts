/**
 * Time arithmetic for reconciliation schedules, timezone-aware through Intl only (no date
 * library). Every function is pure: instants in, instants out. Local calendar days and clock hours
 * are those of an IANA zone, so a daily window on a DST change day is 23 or 25 hours long, and an
 * hourly window in a zone with a half-hour offset starts at :30 UTC.
 */
import type { ReconciliationCadence, ReconciliationKind } from '@raise-sync/shared/state';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A closed window: start inclusive, end exclusive. */
export interface TimeWindow {
  start: Date;
  end: Date;
}

/** Wall-clock fields of an instant in a zone. `weekday` 0 = Sunday … 6 = Saturday. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** True when the runtime knows the IANA zone (e.g. 'Europe/Berlin', 'UTC'). */
export function isValidTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone.trim() === '') {
    return false;
  }
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

export function localTime(instant: Date, zone: string): LocalTime {
  const fields: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(instant)) {
    fields[part.type] = part.value;
  }
  return {
    year: Number(fields.year),
    month: Number(fields.month),
    day: Number(fields.day),
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
    weekday: WEEKDAYS[fields.weekday ?? ''] ?? 0,
  };
}

/** How far the zone's wall clock is ahead of UTC at `instantMs` (whole seconds are kept). */
function offsetMs(instantMs: number, zone: string): number {
  const t = localTime(new Date(instantMs), zone);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant a wall-clock time occurs in the zone. A time skipped by a DST jump (02:30 on a
 * spring-forward day in Europe/Berlin) resolves to the moment the clock jumped to, i.e. the first
 * instant at or after that wall time; a repeated time (fall-back) resolves to its first occurrence.
 * Fields may overflow (day 32, hour 24) and are normalised like Date.UTC does.
 */
export function zonedTime(
  zone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
): Date {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // The offset can only be one of the two around `wall`; try both, earliest valid first.
  const candidates = [offsetMs(wall - DAY, zone), offsetMs(wall + DAY, zone), offsetMs(wall, zone)]
    .map((offset) => wall - offset)
    .filter((instant, i, all) => all.indexOf(instant) === i)
    .sort((a, b) => a - b);
  for (const instant of candidates) {
    if (instant + offsetMs(instant, zone) === wall) {
      return new Date(instant);
    }
  }
  // In a gap: the wall time never happens. Take the instant the clock jumped past it.
  const before = Math.min(...candidates);
  const after = Math.max(...candidates);
  let lo = before;
  let hi = after;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2 / 1000) * 1000;
    if (mid + offsetMs(mid, zone) < wall) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return new Date(hi);
}

/** Local midnight starting the calendar day (in `zone`) that contains `instant`. */
export function startOfLocalDay(instant: Date, zone: string): Date {
  const t = localTime(instant, zone);
  return zonedTime(zone, t.year, t.month, t.day);
}

/**
 * The start of the local clock hour containing `instant`: the instant minus the local minutes and
 * seconds already elapsed (also right in a repeated fall-back hour and in half-hour zones).
 */
export function startOfLocalHour(instant: Date, zone: string): Date {
  const t = localTime(instant, zone);
  const ms = instant.getTime();
  const intoSecond = ((ms % 1000) + 1000) % 1000;
  return new Date(ms - intoSecond - t.second * 1000 - t.minute * MINUTE);
}

/** [local midnight of `date`, local midnight of the next day) for a calendar date YYYY-MM-DD. */
export function localDayWindow(date: string, zone: string): TimeWindow {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) {
    throw new RangeError(`date must be YYYY-MM-DD, got '${date}'`);
  }
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (
    probe.getUTCFullYear() !== year ||
    probe.getUTCMonth() !== month - 1 ||
    probe.getUTCDate() !== day
  ) {
    throw new RangeError(`'${date}' is not a calendar date`);
  }
  return {
    start: zonedTime(zone, year, month, day),
    end: zonedTime(zone, year, month, day + 1),
  };
}

/**
 * The local calendar day before the one containing `at`: what a daily run at `at` reconciles.
 * Its end is the local midnight that started `at`'s day, so the current day is never included.
 */
export function previousLocalDay(at: Date, zone: string): TimeWindow {
  const end = startOfLocalDay(at, zone);
  const t = localTime(new Date(end.getTime() - HOUR), zone);
  return { start: zonedTime(zone, t.year, t.month, t.day), end };
}

/**
 * The local clock hour that ended `lagHours` before `at`: an hourly run at 10:05 with a 4 hour
 * lag reconciles [05:00, 06:00) local time (the hour that ended at or before 06:05).
 */
export function laggedHour(at: Date, zone: string, lagHours: number): TimeWindow {
  const end = startOfLocalHour(new Date(at.getTime() - lagHours * HOUR), zone);
  const start = startOfLocalHour(new Date(end.getTime() - 1), zone);
  return { start, end };
}

/** The whole history up to the start of the local day containing `at` (deletion detection). */
export function historyBefore(at: Date, zone: string): TimeWindow {
  return { start: new Date(0), end: startOfLocalDay(at, zone) };
}

export interface ScheduleTiming {
  kind: ReconciliationKind;
  cadence: ReconciliationCadence;
  timezone: string;
  /** Minutes after local midnight (daily, weekly); minutes past the hour for hourly: % 60. */
  runAtMinute: number;
  lagHours: number;
  /** Weekly: the local weekday to run on, 0 = Sunday (default). */
  weekday?: number;
  /**
   * webhook-log only: run every this many seconds instead of on the cadence's clock (a test or
   * an operator wanting tighter repair than hourly).
   */
  intervalSeconds?: number;
}

/** How far back a webhook-log run without a checkpoint reads the delivery log. */
export const WEBHOOK_LOG_LOOKBACK_MS = DAY;

/** The first run time strictly after `after`. */
export function nextRunAt(timing: ScheduleTiming, after: Date): Date {
  if (timing.kind === 'webhook-log' && timing.intervalSeconds !== undefined) {
    return new Date(after.getTime() + timing.intervalSeconds * 1000);
  }
  const zone = timing.timezone;
  const minuteOfDay = Math.min(Math.max(timing.runAtMinute, 0), 24 * 60 - 1);
  if (timing.cadence === 'hourly') {
    const minute = minuteOfDay % 60;
    let hourStart = startOfLocalHour(after, zone);
    for (let i = 0; i < 4; i += 1) {
      const candidate = new Date(hourStart.getTime() + minute * MINUTE);
      if (candidate.getTime() > after.getTime()) {
        return candidate;
      }
      hourStart = startOfLocalHour(new Date(hourStart.getTime() + HOUR + 1), zone);
    }
    return new Date(hourStart.getTime() + minute * MINUTE);
  }
  const t = localTime(after, zone);
  const weekday = timing.weekday ?? 0;
  for (let offset = 0; offset <= 8; offset += 1) {
    const dayStart = zonedTime(zone, t.year, t.month, t.day + offset);
    const local = localTime(new Date(dayStart.getTime() + 12 * HOUR), zone);
    if (timing.cadence === 'weekly' && local.weekday !== weekday) {
      continue;
    }
    const candidate = zonedTime(
      zone,
      local.year,
      local.month,
      local.day,
      Math.floor(minuteOfDay / 60),
      minuteOfDay % 60,
    );
    if (candidate.getTime() > after.getTime()) {
      return candidate;
    }
  }
  throw new Error(`no next run found for ${JSON.stringify(timing)} after ${after.toISOString()}`);
}

/**
 * The closed window a scheduled run due at `due` reconciles: daily = the previous local day;
 * hourly = the local hour that ended `lagHours` ago; weekly = the previous local week for window
 * checks, and the whole history before today for deletion detection; for the webhook-log check
 * the day before the due time (read only when it has no checkpoint yet).
 */
export function scheduledWindow(timing: ScheduleTiming, due: Date): TimeWindow {
  if (timing.kind === 'deletion') {
    return historyBefore(due, timing.timezone);
  }
  if (timing.kind === 'webhook-log') {
    // The run reads the log after its checkpoint; the window only bounds a first read.
    return { start: new Date(due.getTime() - WEBHOOK_LOG_LOOKBACK_MS), end: due };
  }
  switch (timing.cadence) {
    case 'hourly':
      return laggedHour(due, timing.timezone, timing.lagHours);
    case 'daily':
      return previousLocalDay(due, timing.timezone);
    case 'weekly': {
      const end = startOfLocalDay(due, timing.timezone);
      const t = localTime(end, timing.timezone);
      return { start: zonedTime(timing.timezone, t.year, t.month, t.day - 7), end };
    }
  }
}

/** 'HH:MM' → minutes after midnight; null when malformed. */
export function parseRunAt(text: string): number | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

export function formatRunAt(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
