import {
  isValidTimeZone,
  laggedHour,
  localDayWindow,
  nextRunAt,
  parseRunAt,
  previousLocalDay,
  scheduledWindow,
  startOfLocalDay,
  zonedTime,
  type ScheduleTiming,
} from './windows';

const at = (iso: string): Date => new Date(iso);
const iso = (d: Date): string => d.toISOString();

describe('zonedTime', () => {
  it('turns a wall-clock time into the instant, with the offset in force that day', () => {
    expect(iso(zonedTime('Europe/Berlin', 2026, 1, 15, 6, 0))).toBe('2026-01-15T05:00:00.000Z');
    expect(iso(zonedTime('Europe/Berlin', 2026, 7, 15, 6, 0))).toBe('2026-07-15T04:00:00.000Z');
    expect(iso(zonedTime('America/New_York', 2026, 1, 15, 0, 0))).toBe('2026-01-15T05:00:00.000Z');
    expect(iso(zonedTime('Asia/Kolkata', 2026, 3, 1, 0, 0))).toBe('2026-02-28T18:30:00.000Z');
  });

  it('resolves a time skipped by spring-forward to the moment of the jump', () => {
    // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    expect(iso(zonedTime('Europe/Berlin', 2026, 3, 29, 2, 30))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('resolves a repeated fall-back time to its first occurrence', () => {
    // America/New_York 2026-11-01: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    expect(iso(zonedTime('America/New_York', 2026, 11, 1, 1, 30))).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('daily windows', () => {
  it('is the previous local calendar day, ending at the local midnight of the run day', () => {
    const window = previousLocalDay(at('2026-06-10T10:00:00Z'), 'Europe/Berlin');
    expect(iso(window.start)).toBe('2026-06-08T22:00:00.000Z');
    expect(iso(window.end)).toBe('2026-06-09T22:00:00.000Z');
  });

  it('is 23 hours long for the spring-forward day and 25 for the fall-back day (America/New_York)', () => {
    const spring = previousLocalDay(at('2026-03-09T12:00:00Z'), 'America/New_York');
    expect(iso(spring.start)).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(spring.end)).toBe('2026-03-09T04:00:00.000Z');
    expect(spring.end.getTime() - spring.start.getTime()).toBe(23 * 3600_000);

    const fall = previousLocalDay(at('2026-11-02T12:00:00Z'), 'America/New_York');
    expect(iso(fall.start)).toBe('2026-11-01T04:00:00.000Z');
    expect(iso(fall.end)).toBe('2026-11-02T05:00:00.000Z');
    expect(fall.end.getTime() - fall.start.getTime()).toBe(25 * 3600_000);
  });

  it('handles the Europe/Berlin DST days the same way', () => {
    const spring = previousLocalDay(at('2026-03-30T08:00:00Z'), 'Europe/Berlin');
    expect(spring.end.getTime() - spring.start.getTime()).toBe(23 * 3600_000);
    expect(iso(spring.start)).toBe('2026-03-28T23:00:00.000Z');
    const fall = previousLocalDay(at('2026-10-26T08:00:00Z'), 'Europe/Berlin');
    expect(fall.end.getTime() - fall.start.getTime()).toBe(25 * 3600_000);
  });

  it('never includes the current local day, right after midnight included', () => {
    const justAfterMidnight = at('2026-06-10T04:00:30Z'); // 00:00:30 in New York
    const window = previousLocalDay(justAfterMidnight, 'America/New_York');
    expect(window.end.getTime()).toBe(
      startOfLocalDay(justAfterMidnight, 'America/New_York').getTime(),
    );
    expect(window.end.getTime()).toBeLessThanOrEqual(justAfterMidnight.getTime());
    expect(iso(window.start)).toBe('2026-06-09T04:00:00.000Z');
  });

  it('gives a named date its local day', () => {
    const window = localDayWindow('2026-11-01', 'America/New_York');
    expect(iso(window.start)).toBe('2026-11-01T04:00:00.000Z');
    expect(iso(window.end)).toBe('2026-11-02T05:00:00.000Z');
    expect(() => localDayWindow('2026-02-30', 'UTC')).toThrow(/calendar date/);
    expect(() => localDayWindow('yesterday', 'UTC')).toThrow(/YYYY-MM-DD/);
  });
});

describe('hourly windows', () => {
  it('is the clock hour that ended lag hours ago', () => {
    const window = laggedHour(at('2026-06-10T10:05:00Z'), 'UTC', 4);
    expect(iso(window.start)).toBe('2026-06-10T05:00:00.000Z');
    expect(iso(window.end)).toBe('2026-06-10T06:00:00.000Z');
  });

  it('follows local clock hours in a half-hour zone', () => {
    // 10:40Z is 16:10 in Kolkata; with a 2 hour lag: 14:10 local → [13:00, 14:00) local.
    const window = laggedHour(at('2026-06-10T10:40:00Z'), 'Asia/Kolkata', 2);
    expect(iso(window.start)).toBe('2026-06-10T07:30:00.000Z');
    expect(iso(window.end)).toBe('2026-06-10T08:30:00.000Z');
  });

  it('a lag of zero is the hour that just ended', () => {
    const window = laggedHour(at('2026-06-10T10:00:00Z'), 'UTC', 0);
    expect(iso(window.start)).toBe('2026-06-10T09:00:00.000Z');
    expect(iso(window.end)).toBe('2026-06-10T10:00:00.000Z');
  });

  it('the repeated hour of a fall-back day is reconciled twice as two real hours', () => {
    const first = laggedHour(at('2026-11-01T06:10:00Z'), 'America/New_York', 0);
    const second = laggedHour(at('2026-11-01T07:10:00Z'), 'America/New_York', 0);
    expect(iso(first.start)).toBe('2026-11-01T05:00:00.000Z');
    expect(iso(second.start)).toBe('2026-11-01T06:00:00.000Z');
    expect(second.end.getTime() - second.start.getTime()).toBe(3600_000);
  });
});

describe('next run times', () => {
  const daily: ScheduleTiming = {
    kind: 'window',
    cadence: 'daily',
    timezone: 'Europe/Berlin',
    runAtMinute: 6 * 60,
    lagHours: 4,
  };

  it('daily: the next local run time, later today or tomorrow', () => {
    expect(iso(nextRunAt(daily, at('2026-06-10T03:00:00Z')))).toBe('2026-06-10T04:00:00.000Z');
    expect(iso(nextRunAt(daily, at('2026-06-10T04:00:00Z')))).toBe('2026-06-11T04:00:00.000Z');
    // Winter time: 06:00 Berlin is 05:00Z.
    expect(iso(nextRunAt(daily, at('2026-12-10T12:00:00Z')))).toBe('2026-12-11T05:00:00.000Z');
  });

  it('daily across the spring-forward night keeps 06:00 local', () => {
    expect(iso(nextRunAt(daily, at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T04:00:00.000Z');
  });

  it('hourly: minutes past each local hour', () => {
    const hourly: ScheduleTiming = { ...daily, cadence: 'hourly', runAtMinute: 15 };
    expect(iso(nextRunAt(hourly, at('2026-06-10T10:20:00Z')))).toBe('2026-06-10T11:15:00.000Z');
    const kolkata: ScheduleTiming = { ...hourly, timezone: 'Asia/Kolkata', runAtMinute: 0 };
    expect(iso(nextRunAt(kolkata, at('2026-06-10T10:20:00Z')))).toBe('2026-06-10T10:30:00.000Z');
  });

  it('weekly: the configured local weekday (Sunday by default)', () => {
    const weekly: ScheduleTiming = { ...daily, kind: 'deletion', cadence: 'weekly' };
    // 2026-06-10 is a Wednesday; the next Sunday is 2026-06-14.
    expect(iso(nextRunAt(weekly, at('2026-06-10T12:00:00Z')))).toBe('2026-06-14T04:00:00.000Z');
    expect(iso(nextRunAt({ ...weekly, weekday: 3 }, at('2026-06-10T12:00:00Z')))).toBe(
      '2026-06-17T04:00:00.000Z',
    );
  });

  it('runs due in a row cover consecutive windows without gaps or overlaps', () => {
    let due = nextRunAt(daily, at('2026-03-25T00:00:00Z'));
    let previous = scheduledWindow(daily, due);
    for (let i = 0; i < 10; i += 1) {
      due = nextRunAt(daily, due);
      const window = scheduledWindow(daily, due);
      expect(window.start.getTime()).toBe(previous.end.getTime());
      expect(window.end.getTime()).toBeLessThanOrEqual(due.getTime());
      previous = window;
    }
  });
});

describe('scheduled windows', () => {
  it('deletion detection covers the whole history before the local day of the run', () => {
    const window = scheduledWindow(
      {
        kind: 'deletion',
        cadence: 'weekly',
        timezone: 'America/New_York',
        runAtMinute: 360,
        lagHours: 4,
      },
      at('2026-06-14T10:00:00Z'),
    );
    expect(window.start.getTime()).toBe(0);
    expect(iso(window.end)).toBe('2026-06-14T04:00:00.000Z');
  });

  it('deletion detection run daily still covers the whole history', () => {
    const timing: ScheduleTiming = {
      kind: 'deletion',
      cadence: 'daily',
      timezone: 'UTC',
      runAtMinute: 360,
      lagHours: 4,
    };
    expect(iso(nextRunAt(timing, at('2026-06-14T07:00:00Z')))).toBe('2026-06-15T06:00:00.000Z');
    const window = scheduledWindow(timing, at('2026-06-15T06:00:00Z'));
    expect(window.start.getTime()).toBe(0);
    expect(iso(window.end)).toBe('2026-06-15T00:00:00.000Z');
  });

  it('webhook-log: hourly on the clock, or every intervalSeconds; the day before as its window', () => {
    const hourly: ScheduleTiming = {
      kind: 'webhook-log',
      cadence: 'hourly',
      timezone: 'UTC',
      runAtMinute: 360,
      lagHours: 4,
    };
    expect(iso(nextRunAt(hourly, at('2026-06-14T07:10:00Z')))).toBe('2026-06-14T08:00:00.000Z');
    expect(iso(nextRunAt({ ...hourly, intervalSeconds: 5 }, at('2026-06-14T07:10:00Z')))).toBe(
      '2026-06-14T07:10:05.000Z',
    );
    // The interval is a webhook-log setting only.
    expect(
      iso(nextRunAt({ ...hourly, kind: 'window', intervalSeconds: 5 }, at('2026-06-14T07:10:00Z'))),
    ).toBe('2026-06-14T08:00:00.000Z');
    const window = scheduledWindow(hourly, at('2026-06-14T08:00:00Z'));
    expect(iso(window.start)).toBe('2026-06-13T08:00:00.000Z');
    expect(iso(window.end)).toBe('2026-06-14T08:00:00.000Z');
  });
});

describe('helpers', () => {
  it('validates zones and HH:MM', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(parseRunAt('06:30')).toBe(390);
    expect(parseRunAt('24:00')).toBeNull();
  });
});
