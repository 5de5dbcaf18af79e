import { judge } from './console-query.service';

const now = new Date('2026-11-23T12:00:00Z');
const quiet = {
  status: 'live',
  failingCredentials: 0,
  openDeadLetters: 0,
  oldestDeadLetter: null,
  latestActionable: 0,
  failedBackfills: 0,
  now,
};
const hoursAgo = (h: number): Date => new Date(now.getTime() - h * 3_600_000);

describe('console verdict', () => {
  it('is healthy with nothing open', () => {
    expect(judge(quiet)).toEqual({ verdict: 'healthy', reasons: [] });
  });

  it('asks for attention for fresh dead letters and actionable reconciliation gaps', () => {
    expect(
      judge({ ...quiet, openDeadLetters: 3, oldestDeadLetter: hoursAgo(2), latestActionable: 4 }),
    ).toEqual({
      verdict: 'attention',
      reasons: [
        '3 open dead letter(s), oldest 2 h',
        'the last reconciliation found 4 actionable gap(s)',
      ],
    });
  });

  it('fails on a rejected token, a pause, a failed backfill or dead letters a day old', () => {
    expect(judge({ ...quiet, failingCredentials: 1 }).verdict).toBe('failing');
    expect(judge({ ...quiet, status: 'paused' }).verdict).toBe('failing');
    expect(judge({ ...quiet, failedBackfills: 1 }).verdict).toBe('failing');
    const stale = judge({ ...quiet, openDeadLetters: 1, oldestDeadLetter: hoursAgo(25) });
    expect(stale).toEqual({ verdict: 'failing', reasons: ['1 open dead letter(s), oldest 25 h'] });
  });

  it("asks for attention while a destination's breaker is open or its lane drains", () => {
    expect(
      judge({
        ...quiet,
        lanes: [
          {
            name: 'crm-plus',
            open: true,
            openedAt: new Date('2026-11-23T10:42:00Z'),
            waiting: 3120,
          },
          { name: 'webhook', open: false, openedAt: null, waiting: 40 },
          { name: 'warehouse', open: false, openedAt: null, waiting: 0 },
        ],
      }),
    ).toEqual({
      verdict: 'attention',
      reasons: [
        'paused: crm-plus unavailable since 10:42 UTC, 3,120 waiting',
        'draining: webhook is slower than its share, 40 waiting',
      ],
    });
  });

  it('lists failing reasons before the ones that only need attention', () => {
    expect(judge({ ...quiet, failingCredentials: 1, latestActionable: 1 }).reasons).toEqual([
      'a source token is rejected: polling is stopped until it is replaced',
      'the last reconciliation found 1 actionable gap(s)',
    ]);
  });
});
