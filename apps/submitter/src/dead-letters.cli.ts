/**
 * Dead-letter CLI over the submitter's admin API.
 *   SUBMITTER_URL=http://127.0.0.1:3002 ADMIN_TOKEN=... node dead-letters.cli.js list [--customer ID] [--destination ID] [--status open]
 *   ... inspect <id> | retry <id> | retry --customer ID [--destination ID] | discard <id> | discard --customer ID
 */
import {
  adminApi,
  cliConfigOrExit,
  cliOption as option,
  runCli,
  USAGE_ERROR,
} from '@raise-sync/shared/cli';
import { SUBMITTER_CLI_CONFIG } from './cli.config';

const USAGE =
  'usage: dead-letters.cli.js list|inspect <id>|retry <id>|retry --customer ID|discard <id>|discard --customer ID\n' +
  'environment: ADMIN_TOKEN, SUBMITTER_URL (default http://127.0.0.1:3002)';

const call = adminApi(cliConfigOrExit(SUBMITTER_CLI_CONFIG, USAGE));

runCli(USAGE, async () => {
  const [command, id] = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const filter = {
    customerId: option('customer'),
    destinationId: option('destination'),
    reason: option('reason'),
    status: option('status'),
  };
  if (command === 'list') {
    const query = new URLSearchParams(
      Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return call('GET', `/admin/dead-letters?${query.toString()}`);
  }
  if (command === 'inspect' && id) {
    return call('GET', `/admin/dead-letters/${id}`);
  }
  if ((command === 'retry' || command === 'discard') && id) {
    return call('POST', `/admin/dead-letters/${id}/${command}`);
  }
  if (command === 'retry' || command === 'discard') {
    return call('POST', `/admin/dead-letters/${command}`, filter);
  }
  return USAGE_ERROR;
});
