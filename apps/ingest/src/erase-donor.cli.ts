/**
 * Erasure of one donor (GDPR) over ingest's admin API; the same call as
 * `POST /admin/customers/:id/donors/:donorId/erase`, recorded with trigger 'cli'.
 *   INGEST_URL=http://127.0.0.1:3001 ADMIN_TOKEN=... node erase-donor.cli.js erase --customer ID --donor ID --requested-by NAME
 *   ... show --customer ID --donor ID
 */
import {
  adminApi,
  cliConfigOrExit,
  cliOption as option,
  runCli,
  USAGE_ERROR,
} from '@raise-sync/shared/cli';
import { INGEST_CLI_CONFIG } from './cli.config';

const USAGE =
  'usage: erase-donor.cli.js erase --customer ID --donor ID --requested-by NAME | show --customer ID --donor ID\n' +
  'environment: ADMIN_TOKEN, INGEST_URL (default http://127.0.0.1:3001)';

const call = adminApi(cliConfigOrExit(INGEST_CLI_CONFIG, USAGE));

runCli(USAGE, async () => {
  const command = process.argv[2];
  const customerId = option('customer');
  const donorId = option('donor');
  const requestedBy = option('requested-by');
  if (!customerId || !donorId) {
    return USAGE_ERROR;
  }
  const path = `/admin/customers/${encodeURIComponent(customerId)}/donors/${encodeURIComponent(donorId)}`;
  if (command === 'erase' && requestedBy) {
    return call('POST', `${path}/erase`, { requestedBy, trigger: 'cli' });
  }
  return command === 'show' ? call('GET', `${path}/erasure`) : USAGE_ERROR;
});
