/**
 * Backfill CLI over the backfiller's admin API (so it needs no database access or secrets
 * besides the admin token):
 *   BACKFILLER_URL=http://127.0.0.1:3004 ADMIN_TOKEN=... node backfill.cli.js \
 *     start --customer <id> --resource gift [--from <ISO>] [--to <ISO>] [--wait]
 *   ... status --customer <id> [--watch]
 * On a terminal, progress is a bar redrawn in place; otherwise one plain line per run and refresh.
 * Exit codes: 0 ok (with --wait: the run is done), 1 error or the run failed/was cancelled, 2 usage.
 */
import {
  adminApi,
  cliConfigOrExit,
  cliFlag as flag,
  cliOption as option,
} from '@raise-sync/shared/cli';
import { BACKFILLER_CLI_CONFIG } from './cli.config';
import { renderProgressLine } from './progress/progress-bar';
import type { RunView } from './progress/run-view';

const USAGE = `usage:
  backfill.cli.js start --customer <id> --resource <resource> [--source raise|vomo] [--from <ISO>] [--to <ISO>] [--wait]
  backfill.cli.js status --customer <id> [--watch]
environment: ADMIN_TOKEN, BACKFILLER_URL (default http://127.0.0.1:3004), BACKFILL_CLI_REFRESH_MS (default 1000)`;

const config = cliConfigOrExit(BACKFILLER_CLI_CONFIG, USAGE);
const call = adminApi(config);
const refreshMs = config.backfillRefreshMs;
const tty = Boolean(process.stdout.isTTY);

const finished = (run: RunView): boolean =>
  run.status === 'done' || run.status === 'failed' || run.status === 'cancelled';

/** Draws the runs; on a terminal the previous drawing (`drawn` lines) is overwritten. */
function draw(runs: RunView[], drawn: number): number {
  if (tty && drawn > 0) {
    process.stdout.write(`\u001b[${drawn}A`);
  }
  for (const run of runs) {
    const line = renderProgressLine(run, { tty });
    process.stdout.write(tty ? `\u001b[2K${line}\n` : `${line}\n`);
  }
  return runs.length;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Redraws until every run has finished; resolves with them as they ended. */
async function follow(load: () => Promise<RunView[]>): Promise<RunView[]> {
  let drawn = 0;
  let lastPlain = '';
  for (;;) {
    const runs = await load();
    if (tty) {
      drawn = draw(runs, drawn);
    } else {
      // In logs, a new line only when something changed.
      const text = runs.map((run) => renderProgressLine(run, { tty })).join('\n');
      if (text !== lastPlain) {
        process.stdout.write(`${text}\n`);
        lastPlain = text;
      }
    }
    if (runs.every(finished)) {
      return runs;
    }
    await sleep(refreshMs);
  }
}

async function main(): Promise<number> {
  const command = process.argv[2];
  const customer = option('customer');
  if (!customer || (command !== 'start' && command !== 'status')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (command === 'start') {
    const resource = option('resource');
    if (!resource) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    const run = await call<RunView>('POST', `/admin/customers/${customer}/backfills`, {
      resource,
      trigger: 'cli',
      ...(option('source') ? { source: option('source') } : {}),
      ...(option('from') ? { modifiedFrom: option('from') } : {}),
      ...(option('to') ? { modifiedTo: option('to') } : {}),
    });
    process.stdout.write(`backfill run ${run.id} requested (${run.source}.${run.resource})\n`);
    if (!flag('wait')) {
      return 0;
    }
    const [last] = await follow(async () => [
      await call<RunView>('GET', `/admin/backfills/${run.id}`),
    ]);
    if (last?.status !== 'done') {
      process.stderr.write(
        `backfill run ${run.id} ended ${last?.status ?? 'unknown'}: ${last?.lastError ?? ''}\n`,
      );
      return 1;
    }
    return 0;
  }
  const load = (): Promise<RunView[]> =>
    call<RunView[]>('GET', `/admin/customers/${customer}/backfills`);
  if (!flag('watch')) {
    const runs = await load();
    if (runs.length === 0) {
      process.stdout.write(`no backfills for customer ${customer}\n`);
    }
    draw(runs, 0);
    return 0;
  }
  // Follow the runs in progress now (or the newest run per resource when none is) to their end.
  const initial = await load();
  const active = initial.filter((run) => !finished(run));
  const newestPerResource = initial.filter(
    (run, i) => initial.findIndex((other) => other.resource === run.resource) === i,
  );
  const watched = new Set((active.length > 0 ? active : newestPerResource).map((run) => run.id));
  await follow(async () => (await load()).filter((run) => watched.has(run.id)));
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
