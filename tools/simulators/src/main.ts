/**
 * Standalone simulator:
 *   node dist/tools/simulators/tools/simulators/src/main.js --port 4010 [--host 127.0.0.1]
 *        [--seed 42] [--orgs demo:5000[,other:200]]
 * Prints one JSON line (URLs, orgs and their tokens) and runs until SIGTERM or SIGINT.
 */
import { parseCliArgs, startFromArgs, USAGE } from './cli';

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { simulator, banner } = await startFromArgs(args);
  process.stdout.write(`${banner}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      return;
    }
    stopping = true;
    void simulator.stop().then(() => {
      process.stderr.write(`simulator stopped (${signal})\n`);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.stderr.write(USAGE);
  process.exit(1);
});
