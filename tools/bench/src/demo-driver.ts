/**
 * The demo customer for `npm start`: creates an org in the simulator, onboards it through ingest's
 * admin API (tokens validated, webhook registered, polling as a backstop), sets its destinations
 * through the submitter's, then keeps producing Raise activity and prints what flowed through
 * ingest every few seconds. Ctrl-C stops it.
 *
 *   node demo-driver.js --sim http://127.0.0.1:4010 --ingest http://127.0.0.1:3001 \
 *     --submitter http://127.0.0.1:3002 --backfiller http://127.0.0.1:3004
 */
import { connectSimulator } from '@raise-sync/simulators';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const SIM = arg('sim', 'http://127.0.0.1:4010');
const INGEST = arg('ingest', 'http://127.0.0.1:3001');
const SUBMITTER = arg('submitter', 'http://127.0.0.1:3002');
const BACKFILLER = arg('backfiller', 'http://127.0.0.1:3004');
const ADMIN_TOKEN = process.env['ADMIN_TOKEN'] ?? '';
const ORG = 'demo';
const NAME = 'Demo Nonprofit';

/** A call to a service's admin API (ingest's unless another base URL is given). */
async function admin<T>(
  method: string,
  path: string,
  body?: unknown,
  service = INGEST,
): Promise<T> {
  const response = await fetch(`${service}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

async function metric(name: string, match: string, service = INGEST): Promise<number> {
  const text = await fetch(`${service}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function main(): Promise<void> {
  const sim = connectSimulator(SIM);
  const raiseToken = 'demo-raise-token';
  const vomoToken = 'demo-vomo-token';
  const orgs = await sim.listOrgs();
  if (!orgs.some((o) => o.id === ORG)) {
    await sim.createOrg({ id: ORG, raiseToken, vomoToken, gifts: 2000, donors: 500, users: 200 });
  }
  // A previous run's demo customer points at a simulator that no longer holds its webhook.
  const existing = await admin<Array<{ id: string; name: string; status: string }>>(
    'GET',
    '/admin/customers',
  );
  for (const c of existing.filter((x) => x.name === NAME && x.status !== 'offboarded')) {
    await admin('POST', `/admin/customers/${c.id}/offboard`);
  }
  const customer = await admin<{ id: string }>('POST', '/admin/customers', {
    name: NAME,
    raise: { apiToken: raiseToken },
    vomo: { apiToken: vomoToken },
    polling: { enabled: true, intervalSeconds: 60 },
    // The org's existing history arrives through the backfiller (same topics as live events);
    // it starts once the destinations below exist, and polling takes over from its high-water mark.
    // (The Raise webhook is subscribed as part of onboarding.)
    mode: 'full_history',
  });
  // One simulated account per HTTP destination (CRM+, accounting, marketing, a partner webhook).
  const suffix = customer.id.slice(0, 8);
  const accounts = {
    crm: `demo-crm-${suffix}`,
    accounting: `demo-accounting-${suffix}`,
    marketing: `demo-marketing-${suffix}`,
    hook: `demo-hook-${suffix}`,
  };
  await sim.destinations.createAccount({
    kind: 'crm-plus',
    id: accounts.crm,
    token: `${accounts.crm}-token`,
  });
  await sim.destinations.createAccount({
    kind: 'accounting',
    id: accounts.accounting,
    token: `${accounts.accounting}-token`,
  });
  await sim.destinations.createAccount({
    kind: 'marketing',
    id: accounts.marketing,
    token: `${accounts.marketing}-token`,
    listId: 'donors',
  });
  await sim.destinations.createAccount({
    kind: 'webhook',
    id: accounts.hook,
    secret: `${accounts.hook}-secret-0123456789`,
  });
  await admin(
    'PUT',
    `/admin/customers/${customer.id}/destinations`,
    {
      destinations: [
        { kind: 'warehouse', name: 'warehouse' },
        {
          kind: 'crm-plus',
          name: 'crm-plus',
          config: { baseUrl: `${SIM}/crm` },
          secrets: { token: `${accounts.crm}-token` },
        },
        {
          kind: 'accounting',
          name: 'accounting',
          config: { baseUrl: `${SIM}/accounting` },
          secrets: { token: `${accounts.accounting}-token` },
        },
        {
          kind: 'marketing',
          name: 'marketing',
          config: { baseUrl: `${SIM}/marketing`, listId: 'donors' },
          secrets: { token: `${accounts.marketing}-token` },
        },
        {
          kind: 'webhook',
          name: 'webhook',
          config: { url: `${SIM}/hooks/${accounts.hook}` },
          secrets: { secret: `${accounts.hook}-secret-0123456789` },
        },
      ],
    },
    SUBMITTER,
  );
  process.stdout.write(
    `demo customer ${customer.id} onboarded: history backfilling, webhooks registered with the Raise simulator, polling every 60 s as a backstop\n`,
  );
  // A read-only console token for the customer's own view (the admin token sees every customer).
  const issued = await fetch(`${SUBMITTER}/admin/customers/${customer.id}/console-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'demo customer' }),
  });
  if (issued.ok) {
    const { token } = (await issued.json()) as { token: string };
    process.stdout.write(
      `sync-health console: ${SUBMITTER}/console  (operators: the admin token; the demo customer's read-only token: ${token})\n`,
    );
  } else {
    process.stdout.write(`could not issue a console token: HTTP ${issued.status}\n`);
  }
  let tick = 0;
  const timer = setInterval(() => {
    tick += 1;
    void (async () => {
      await sim.createRecord(ORG, 'gift');
      if (tick % 2 === 0) {
        const donors = await sim.recordKeys(ORG, 'donor');
        const donor = donors[tick % donors.length];
        if (donor) {
          await sim.updateRecord(ORG, 'donor', donor.id);
        }
      }
      if (tick % 5 === 0) {
        await sim.createUser(ORG);
      }
      if (tick % 5 === 0) {
        const match = `customer_id="${customer.id}"`;
        const backfilled = await metric('raise_sync_events_published_total', match, BACKFILLER);
        const published = (await metric('raise_sync_events_published_total', match)) + backfilled;
        const byWebhook = await metric(
          'raise_sync_webhooks_total',
          `${match},source="raise",outcome="accepted"`,
        );
        const polled = await metric('raise_sync_poll_records_total', match);
        const ledger = await fetch(`${SUBMITTER}/admin/ledger?customerId=${customer.id}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
          .then(
            (r) =>
              r.json() as Promise<
                Array<{
                  destination: string;
                  delivered: number;
                  skipped: number;
                  inRetry: number;
                  deadLettered: number;
                  needsSourceFix: number;
                }>
              >,
          )
          .catch(() => []);
        const perDestination = ledger
          .map(
            (l) =>
              `${l.destination} ${l.delivered}${l.inRetry ? ` (+${l.inRetry} retrying)` : ''}${l.deadLettered ? ` (${l.deadLettered} dead)` : ''}${l.needsSourceFix ? ` (${l.needsSourceFix} waiting for a fix in Raise)` : ''}`,
          )
          .join(', ');
        const backfills = await fetch(`${BACKFILLER}/admin/customers/${customer.id}/backfills`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
          .then(
            (r) =>
              r.json() as Promise<
                Array<{ resource: string; status: string; progress?: { percent: number } }>
              >,
          )
          .catch(() => []);
        const history = Array.isArray(backfills)
          ? backfills
              .map(
                (b) =>
                  `${b.resource} ${b.status === 'done' ? 'done' : `${Math.floor(b.progress?.percent ?? 0)}%`}`,
              )
              .join(', ')
          : '';
        process.stdout.write(
          `[demo] in Kafka: ${published} (webhooks ${byWebhook}, polled ${polled}, backfilled ${backfilled}) | backfill: ${history} | delivered: ${perDestination}\n`,
        );
      }
    })().catch((error: unknown) => process.stderr.write(`[demo] ${String(error)}\n`));
  }, 1000);
  const stop = (): void => {
    clearInterval(timer);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo driver failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
