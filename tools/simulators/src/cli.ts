import { startSimulator } from './simulator';
import type { OrgSummary, Simulator } from './types';

export interface CliArgs {
  port: number;
  host: string;
  seed: number;
  orgs: Array<{ id: string; gifts: number }>;
  help: boolean;
}

export const USAGE =
  'usage: main.js [--port 4010] [--host 127.0.0.1] [--seed 42] [--orgs id:gifts[,id:gifts...]]\n';

/** Parses `--name value` and `--name=value` flags; throws on anything unknown or invalid. */
export function parseCliArgs(argv: string[]): CliArgs {
  const args: CliArgs = { port: 4010, host: '127.0.0.1', seed: 1, orgs: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const name = eq >= 0 ? flag.slice(0, eq) : flag;
    const inline = eq >= 0 ? flag.slice(eq + 1) : undefined;
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) {
        throw new Error(`${name} needs a value`);
      }
      return next;
    };
    switch (name) {
      case '--port':
        args.port = Number(value());
        break;
      case '--host':
        args.host = value();
        break;
      case '--seed':
        args.seed = Number(value());
        break;
      case '--orgs':
        for (const spec of value().split(',').filter(Boolean)) {
          const [id, gifts] = spec.split(':');
          args.orgs.push({ id: id ?? '', gifts: gifts === undefined ? 1000 : Number(gifts) });
        }
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    throw new Error('--port must be an integer in [0, 65535]');
  }
  if (!Number.isFinite(args.seed)) {
    throw new Error('--seed must be a number');
  }
  for (const org of args.orgs) {
    if (!Number.isInteger(org.gifts) || org.gifts < 0) {
      throw new Error(`--orgs ${org.id}: the gift count must be a non-negative integer`);
    }
  }
  return args;
}

/**
 * Starts the simulator with the orgs named on the command line. Each org gets tokens
 * `<id>-raise-token` / `<id>-vomo-token` and counts scaled from its gift count.
 */
export async function startFromArgs(
  args: CliArgs,
): Promise<{ simulator: Simulator; orgs: OrgSummary[]; banner: string }> {
  const simulator = await startSimulator({ port: args.port, host: args.host, seed: args.seed });
  const orgs = args.orgs.map(({ id, gifts }) =>
    simulator.control.createOrg({
      id,
      raiseToken: `${id}-raise-token`,
      vomoToken: `${id}-vomo-token`,
      seed: args.seed,
      gifts,
      donors: Math.max(20, Math.floor(gifts / 5)),
      recurringGifts: Math.max(5, Math.floor(gifts / 40)),
      campaigns: Math.max(3, Math.min(50, Math.floor(gifts / 500))),
      users: Math.max(15, Math.floor(gifts / 10)),
    }),
  );
  const banner = JSON.stringify({
    url: simulator.url,
    raiseUrl: simulator.raiseUrl,
    vomoUrl: simulator.vomoUrl,
    crmUrl: simulator.crmUrl,
    accountingUrl: simulator.accountingUrl,
    marketingUrl: simulator.marketingUrl,
    hooksUrl: simulator.hooksUrl,
    controlUrl: `${simulator.url}/_sim`,
    orgs: orgs.map(({ id, raiseToken, vomoToken, counts }) => ({
      id,
      raiseToken,
      vomoToken,
      counts,
    })),
  });
  return { simulator, orgs, banner };
}
