import type { PushbackView, RunView } from './run-view';

/** `52s`, `12m05s`, `3h04m`; `?` when unknown (negative). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '?';
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 1234567 → `1,234,567` (fixed separators, whatever the machine's locale). */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A bar of `width` cells, filled in proportion to `percent` (0-100). */
export function bar(percent: number, width: number, tty: boolean): string {
  const clamped = Math.max(0, Math.min(100, percent));
  const filled = Math.round((clamped / 100) * width);
  const [full, empty] = tty ? ['█', '░'] : ['#', '.'];
  return `[${full.repeat(filled)}${empty.repeat(width - filled)}]`;
}

/** `held: over 5,000 events wait in the customer's destination lanes` */
export function heldText(pushback: PushbackView): string {
  return `held: over ${formatCount(pushback.limit)} events wait in the customer's destination lanes`;
}

function rangesText(run: RunView): string {
  const r = run.progress.ranges;
  const parts = (['done', 'running', 'pending', 'failed'] as const)
    .filter((status) => r[status] > 0)
    .map((status) => `${r[status]} ${status}`);
  return parts.length > 0 ? `ranges ${parts.join(', ')}` : 'not planned yet';
}

/**
 * One line of progress for a run. On a terminal: a drawn bar; otherwise (logs, pipes) the same
 * figures as plain words, one line per refresh.
 *
 *   gift     [████████░░░░░░░░░░░░]  41.5%  83,000/200,000  2,140/s  ETA 55s  running  ranges 1 done, 3 running
 */
export function renderProgressLine(
  run: RunView,
  options: { tty: boolean; barWidth?: number },
): string {
  const p = run.progress;
  const total = p.recordsTotal === null ? '?' : formatCount(p.recordsTotal);
  const rate = p.ratePerSecond === null ? '?' : formatCount(p.ratePerSecond);
  const eta =
    run.status === 'running' || run.status === 'pending' ? formatDuration(p.etaSeconds) : '-';
  const percent = `${p.percent.toFixed(1)}%`;
  const held = run.pushback ? `, ${heldText(run.pushback)}` : '';
  if (options.tty) {
    return [
      run.resource.padEnd(14),
      bar(p.percent, options.barWidth ?? 24, true),
      percent.padStart(6),
      `${formatCount(p.recordsDone)}/${total}`.padStart(19),
      `${rate}/s`.padStart(9),
      `ETA ${eta}`.padEnd(11),
      run.status.padEnd(9),
      rangesText(run) + held,
    ].join('  ');
  }
  const error = run.lastError ? `, error: ${run.lastError}` : '';
  return `${run.resource} ${run.status} ${percent}: ${formatCount(p.recordsDone)}/${total} records, ${rate} records/s, ETA ${eta}, ${rangesText(run)}${held}${error}`;
}
