/**
 * Reconciliation CLI over the reconciler's admin API.
 *   RECONCILER_URL=http://127.0.0.1:3003 ADMIN_TOKEN=... node reconcile.cli.js \
 *     run --customer ID [--kind window|deletion|crm-consistency] [--date YYYY-MM-DD | --from ISO --to ISO]
 *         [--resources gift,donor] [--wait]
 *     list --customer ID [--kind KIND] [--limit N]
 *     show RUN_ID [--limit N] [--state STATE]
 *     schedules --customer ID
 * `run` prints the requested run; with --wait it waits for the outcome and prints its counts
 * (exit code 1 when the run failed).
 */
import {
  adminApi,
  cliConfigOrExit,
  cliFlag as flag,
  cliOption as option,
} from '@raise-sync/shared/cli';
import { RECONCILER_CLI_CONFIG } from './cli.config';

const USAGE =
  'usage: reconcile.cli.js run --customer ID [--kind K] [--date D | --from ISO --to ISO] [--resources a,b] [--wait]\n' +
  '       reconcile.cli.js list --customer ID [--kind K] [--limit N] | show RUN_ID | schedules --customer ID\n' +
  'environment: ADMIN_TOKEN, RECONCILER_URL (default http://127.0.0.1:3003)';

const call = adminApi(cliConfigOrExit(RECONCILER_CLI_CONFIG, USAGE));

interface Run {
  id: string;
  customerId: string;
  kind: string;
  status: string;
  windowStart: string;
  windowEnd: string;
  counts: Record<string, number>;
  durationMs: number | null;
  error: string | null;
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

function requireOption(name: string): string {
  const value = option(name);
  if (!value) {
    throw new Error(`--${name} is required`);
  }
  return value;
}

/** One line per count, aligned, for a human reading a terminal. */
function summary(run: Run): string {
  const lines = [
    `run ${run.id} (${run.kind}) ${run.status} in ${run.durationMs ?? '?'} ms`,
    `window ${run.windowStart} .. ${run.windowEnd}`,
  ];
  if (run.error) {
    lines.push(`error: ${run.error}`);
  }
  const keys = Object.keys(run.counts).sort();
  const width = Math.max(0, ...keys.map((k) => k.length));
  for (const key of keys) {
    lines.push(`  ${key.padEnd(width)}  ${run.counts[key]}`);
  }
  return `${lines.join('\n')}\n`;
}

async function runCommand(): Promise<number> {
  const customer = requireOption('customer');
  const from = option('from');
  const to = option('to');
  const kind = option('kind') ?? 'window';
  const body: Record<string, unknown> = { kind, trigger: 'cli' };
  if (option('date')) {
    body.date = option('date');
  }
  if (from !== undefined || to !== undefined) {
    if (kind !== 'deletion') {
      body.windowStart = from;
    } else if (from !== undefined) {
      throw new Error('deletion runs cover the whole history: give only --to');
    }
    body.windowEnd = to;
  }
  if (option('resources')) {
    body.resources = (option('resources') as string).split(',').map((r) => r.trim());
  }
  let run = await call<Run>('POST', `/admin/customers/${customer}/reconciliations`, body);
  if (!flag('wait')) {
    print(run);
    return 0;
  }
  process.stderr.write(`requested run ${run.id}; waiting for it to finish\n`);
  while (run.status === 'pending' || run.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    run = await call<Run>('GET', `/admin/reconciliations/${run.id}?limit=1`);
  }
  process.stdout.write(summary(run));
  return run.status === 'failed' ? 1 : 0;
}

async function main(): Promise<number> {
  const [command, id] = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  if (command === 'run') {
    return runCommand();
  }
  if (command === 'list') {
    const query = new URLSearchParams();
    for (const name of ['kind', 'limit']) {
      const value = option(name);
      if (value) {
        query.set(name, value);
      }
    }
    print(
      await call(
        'GET',
        `/admin/customers/${requireOption('customer')}/reconciliations?${query.toString()}`,
      ),
    );
    return 0;
  }
  if (command === 'show' && id) {
    const query = new URLSearchParams({ limit: option('limit') ?? '100' });
    if (option('state')) {
      query.set('state', option('state') as string);
    }
    print(await call('GET', `/admin/reconciliations/${id}?${query.toString()}`));
    return 0;
  }
  if (command === 'schedules') {
    print(
      await call('GET', `/admin/customers/${requireOption('customer')}/reconciliation-schedules`),
    );
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
