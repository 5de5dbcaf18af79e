/**
 * Erasure of one donor (GDPR) over ingest's admin API; the same call as
 * `POST /admin/customers/:id/donors/:donorId/erase`, recorded with trigger 'cli'.
 *   INGEST_URL=http://127.0.0.1:3001 ADMIN_TOKEN=... node erase-donor.cli.js erase --customer ID --donor ID --requested-by NAME
 *   ... show --customer ID --donor ID
 */
import { adminApi, cliConfigOrExit, cliOption as option } from '@raise-sync/shared/cli';
import { INGEST_CLI_CONFIG } from './cli.config';

const USAGE =
  'usage: erase-donor.cli.js erase --customer ID --donor ID --requested-by NAME | show --customer ID --donor ID\n' +
  'environment: ADMIN_TOKEN, INGEST_URL (default http://127.0.0.1:3001)';

const call = adminApi(cliConfigOrExit(INGEST_CLI_CONFIG, USAGE));

async function main(): Promise<void> {
  const command = process.argv[2];
  const customerId = option('customer');
  const donorId = option('donor');
  const requestedBy = option('requested-by');
  if (!customerId || !donorId) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const path = `/admin/customers/${encodeURIComponent(customerId)}/donors/${encodeURIComponent(donorId)}`;
  let result: unknown;
  if (command === 'erase' && requestedBy) {
    result = await call('POST', `${path}/erase`, { requestedBy, trigger: 'cli' });
  } else if (command === 'show') {
    result = await call('GET', `${path}/erasure`);
  } else {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
