/**
 * Replay CLI over the backfiller's admin API (needs no database access or secrets besides the
 * admin token):
 *   BACKFILLER_URL=http://127.0.0.1:3004 ADMIN_TOKEN=... node replay.cli.js \
 *     start --customer <id> (--topic <topic> | --resource <resource> [--source raise|vomo])
 *           [--from <ISO> | --from-offset <n|p:n,...>] [--to <ISO> | --to-offset <n|p:n,...>]
 *           [--destination <destinationId>] [--requested-by <name>] [--wait]
 *   ... status <runId> [--watch]      ... status --customer <id>      ... cancel <runId>
 * --resource reads the resource's live and its bulk topic; --topic one topic (offsets need --topic).
 * On a terminal, progress is a bar redrawn in place; otherwise a line every REPLAY_CLI_STEP_PERCENT
 * percent (default 10) and when the status changes.
 * Exit codes: 0 ok (with --wait/--watch: the run is done), 1 error or the run failed/was cancelled, 2 usage.
 */
import {
  adminApi,
  cliConfigOrExit,
  cliFlag as flag,
  cliOption as option,
} from '@raise-sync/shared/cli';
import { BACKFILLER_CLI_CONFIG } from './cli.config';
import { BoundsError, parseOffsetsOption } from './replay/replay-bounds';
import { renderReplayLine, replayFinished, type ReplayView } from './replay/replay-view';

const USAGE = `usage:
  replay.cli.js start --customer <id> (--topic <topic> | --resource <resource> [--source raise|vomo])
                [--from <ISO> | --from-offset <n|partition:n,...>] [--to <ISO> | --to-offset <n|partition:n,...>]
                [--destination <destinationId>] [--requested-by <name>] [--wait]
  replay.cli.js status <runId> [--watch]
  replay.cli.js status --customer <id>
  replay.cli.js cancel <runId>
--resource reads the resource's live and bulk topic; --topic reads one topic (offsets need it).
environment: ADMIN_TOKEN, BACKFILLER_URL (default http://127.0.0.1:3004),
             REPLAY_CLI_REFRESH_MS (default 1000), REPLAY_CLI_STEP_PERCENT (default 10)`;

const config = cliConfigOrExit(BACKFILLER_CLI_CONFIG, USAGE);
const call = adminApi(config);
const refreshMs = config.replayRefreshMs;
const stepPercent = config.replayStepPercent;
const tty = Boolean(process.stdout.isTTY);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class UsageError extends Error {}

/** Follows one run to its end: a bar on a terminal, else a line per step and status change. */
async function follow(runId: string): Promise<ReplayView> {
  let lastStep = -1;
  let lastStatus = '';
  let drawn = false;
  for (;;) {
    const run = await call<ReplayView>('GET', `/admin/replays/${runId}`);
    const line = renderReplayLine(run, { tty });
    if (tty) {
      process.stdout.write(`${drawn ? '\u001b[1A' : ''}\u001b[2K${line}\n`);
      drawn = true;
    } else {
      const step = Math.floor(run.progress.percent / stepPercent);
      if (step !== lastStep || run.status !== lastStatus) {
        process.stdout.write(`${line}\n`);
        lastStep = step;
        lastStatus = run.status;
      }
    }
    if (replayFinished(run)) {
      return run;
    }
    await sleep(refreshMs);
  }
}

function ended(run: ReplayView): number {
  if (run.status === 'done') {
    return 0;
  }
  process.stderr.write(`replay run ${run.id} ended ${run.status}: ${run.lastError ?? ''}\n`);
  return 1;
}

function startBody(): Record<string, unknown> {
  const topic = option('topic');
  const resource = option('resource');
  if (!topic && !resource) {
    throw new UsageError('give --topic or --resource');
  }
  const offsets = (name: string, single: string, many: string): Record<string, unknown> => {
    const parsed = parseOffsetsOption(option(name));
    if (!parsed) {
      return {};
    }
    return 'all' in parsed ? { [single]: parsed.all } : { [many]: parsed.byPartition };
  };
  return {
    trigger: 'cli',
    ...(topic ? { topic } : {}),
    ...(resource ? { resource } : {}),
    ...(option('source') ? { source: option('source') } : {}),
    ...(option('destination') ? { destinationId: option('destination') } : {}),
    ...(option('from') ? { from: option('from') } : {}),
    ...(option('to') ? { to: option('to') } : {}),
    ...offsets('from-offset', 'fromOffset', 'fromOffsets'),
    ...offsets('to-offset', 'toOffset', 'toOffsets'),
    requestedBy: option('requested-by') ?? process.env['USER'] ?? 'cli',
  };
}

async function main(): Promise<number> {
  const command = process.argv[2];
  const runArg = process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : undefined;
  if (command === 'start') {
    const customer = option('customer');
    if (!customer) {
      throw new UsageError('give --customer');
    }
    const run = await call<ReplayView>('POST', `/admin/customers/${customer}/replays`, startBody());
    const partitions = run.partitions
      .map((p) => `${p.topic ? `${p.topic}:` : ''}${p.partition}:${p.from}-${p.to}`)
      .join(' ');
    process.stdout.write(
      `replay run ${run.id} requested (${run.topics.join(' + ')}${run.destinationId ? ` → destination ${run.destinationId}` : ''}; offsets ${partitions})\n`,
    );
    return flag('wait') ? ended(await follow(run.id)) : 0;
  }
  if (command === 'status' && runArg) {
    if (flag('watch')) {
      return ended(await follow(runArg));
    }
    process.stdout.write(
      `${renderReplayLine(await call<ReplayView>('GET', `/admin/replays/${runArg}`), { tty })}\n`,
    );
    return 0;
  }
  if (command === 'status' && option('customer')) {
    const runs = await call<ReplayView[]>('GET', `/admin/customers/${option('customer')}/replays`);
    if (runs.length === 0) {
      process.stdout.write(`no replays for customer ${option('customer')}\n`);
    }
    for (const run of runs) {
      process.stdout.write(`${renderReplayLine(run, { tty })}\n`);
    }
    return 0;
  }
  if (command === 'cancel' && runArg) {
    const run = await call<ReplayView>('POST', `/admin/replays/${runArg}/cancel`);
    process.stdout.write(`${renderReplayLine(run, { tty })}\n`);
    return 0;
  }
  throw new UsageError('unknown command');
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    if (error instanceof UsageError || error instanceof BoundsError) {
      process.stderr.write(`${error.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
