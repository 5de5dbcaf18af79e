/**
 * Fairness benchmark (issue 13): customer B's live latency, source-modified time to arrival at
 * B's warehouse and B's CRM+, while another customer loads the same deployment:
 *   1. alone;
 *   2. during customer A's backfill of --backfill (100,000) gifts, published the way the
 *      backfiller publishes (pages of 1,000 to the bulk topic behind the default lag gate);
 *   3. during customer C's live burst of --burst (50,000) gift webhooks in --burst-seconds (60),
 *      with C's CRM+ answering in --crm-latency-ms (2,000) per request.
 * B's and C's changes are made in the simulated Raise, which signs and sends its webhooks to
 * ingest; ingest, the submitter and the simulators run as they do in production (the apps as
 * processes, default configuration). A's and C's drain rates into their warehouses are printed
 * next to the floor of the submitter benchmark (a bare consumer loop doing the same upserts),
 * measured in the same run. --runs N repeats the whole run on fresh topics and databases and
 * prints the medians.
 *
 *   npm run bench -- fairness [--runs 3] [--backfill 100000] [--burst 50000]
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { SecretBox } from '@raise-sync/shared/crypto';
import { EventCodec } from '@raise-sync/shared/kafka';
import {
  KafkaConnection,
  EventProducer,
  pipelineTopicSpecs,
  submitterLagGate,
  topicsFor,
} from '@raise-sync/shared/kafka';
import { CustomerRepository } from '@raise-sync/shared/state';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import { benchDatabase, env, startService, type BenchService } from './util';
import { backfillGifts, measureFloor, prepareBacklog, warehouseGifts } from './warehouse-floor';

const ROOT = resolve(__dirname, '../../../../../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 1);
const BACKFILL = arg('backfill', 100_000);
const BURST = arg('burst', 50_000);
const BURST_SECONDS = arg('burst-seconds', 60);
const CRM_LATENCY_MS = arg('crm-latency-ms', 2000);
/** B's live changes: one every this many ms. */
const B_EVERY_MS = 250;
const ALONE_MS = 15_000;
/** The backfiller's default gate (BACKFILL_MAX_LAG) and page size. */
const GATE = 20_000;
const PAGE = 1000;
/** Targets of issue 13 for B's p99 on a 2-core machine. */
const TARGET_BACKFILL_MS = 1000;
const TARGET_BURST_MS = 2000;

const ADMIN_TOKEN = randomBytes(24).toString('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
};
const median = (values: number[]): number => pct(values, 0.5);

interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

const percentiles = (xs: number[]): Percentiles => ({
  n: xs.length,
  p50: pct(xs, 0.5),
  p95: pct(xs, 0.95),
  p99: pct(xs, 0.99),
});

interface Latencies {
  /** To ingest's 2xx (Kafka acknowledged): the intake's share of the latency. */
  ack: Percentiles;
  warehouse: Percentiles;
  crm: Percentiles;
  /** B's deliveries that did not arrive within 120 s of B's last change. */
  missing: number;
}

interface RunFigures {
  floorRate: number;
  alone: Latencies;
  backfill: Latencies;
  burst: Latencies;
  backfillRate: number;
  backfillSeconds: number;
  burstAckSeconds: number;
  burstDrainRate: number;
  burstDrainSeconds: number;
  burstCrmDelivered: number;
}

interface Onboarded {
  org: string;
  customerId: string;
  crm: string;
}

async function oneRun(run: number): Promise<RunFigures> {
  const database = await benchDatabase('benchfair');
  const { db } = database;
  const secretsKey = randomBytes(32).toString('hex');
  const customers = new CustomerRepository(db, SecretBox.fromHex(secretsKey));
  const kafka = KafkaConnection.create({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'bench-fair',
  });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  const services: BenchService[] = [];
  let sim: Simulator | undefined;
  try {
    // The floor first, on a topic prefix of its own, before any app runs.
    const floor = await measureFloor(
      kafka,
      codec,
      db,
      await prepareBacklog(kafka, codec, db, customers, 'fair-floor', BACKFILL),
      BACKFILL,
    );

    const prefix = `bench-fair-${randomBytes(3).toString('hex')}`;
    const topics = topicsFor(prefix);
    await kafka.ensureTopics(pipelineTopicSpecs(topics));
    sim = await startSimulator({ seed: 7 + run });
    // Raise sends webhooks with more deliveries in flight than its default, so the burst can
    // arrive within its minute.
    sim.control.setWebhookRetry({ concurrency: 32 });
    const common = {
      KAFKA_BROKERS: env('KAFKA_BROKERS'),
      SCHEMA_REGISTRY_URL: env('SCHEMA_REGISTRY_URL'),
      DATABASE_URL: database.url,
      SECRETS_KEY: secretsKey,
      KAFKA_TOPIC_PREFIX: prefix,
      ADMIN_TOKEN,
      RAISE_API_URL: sim.raiseUrl,
      VOMO_API_URL: sim.vomoUrl,
      LOG_LEVEL: 'warn',
    };
    const ingest = await startService(ROOT, 'ingest', common);
    services.push(ingest);
    const submitter = await startService(ROOT, 'submitter', common);
    services.push(submitter);
    const s = sim;

    const admin = async <T>(
      method: string,
      path: string,
      body: unknown,
      service = ingest.url,
    ): Promise<T> => {
      const res = await fetch(`${service}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      }
      return (await res.json()) as T;
    };
    /** A customer onboarded through ingest's admin API, its Raise webhook subscribed; destinations on the submitter's. */
    const onboard = async (label: string, crmPlus: boolean): Promise<Onboarded> => {
      const org = `fair-${label}-${randomBytes(3).toString('hex')}`;
      s.control.createOrg({
        id: org,
        raiseToken: `${org}-raise`,
        vomoToken: `${org}-vomo`,
        donors: 200,
        gifts: 0,
        recurringGifts: 0,
      });
      const { id } = await admin<{ id: string }>('POST', '/admin/customers', {
        name: org,
        raise: { apiToken: `${org}-raise` },
        polling: { enabled: false },
      });
      const crm = `${org}-crm`;
      const destinations: unknown[] = [{ kind: 'warehouse', name: 'warehouse' }];
      if (crmPlus) {
        s.destinations.createAccount({
          kind: 'crm-plus',
          id: crm,
          token: `${crm}-token`,
          hourlyLimit: 10_000_000,
        });
        destinations.push({
          kind: 'crm-plus',
          name: 'crm-plus',
          config: { baseUrl: s.crmUrl },
          secrets: { token: `${crm}-token` },
        });
      }
      await admin('PUT', `/admin/customers/${id}/destinations`, { destinations }, submitter.url);
      return { org, customerId: id, crm };
    };

    /**
     * Donors with an email that the customer's gifts will name, each shown once by a gift that is
     * waited for: the submitter knows them afterwards, as it does after their own webhooks. The
     * figures then measure delivery, not the first read of each donor under the customer's Raise
     * budget (SOURCE_RATE_LIMITS, 1 request/s by default).
     */
    const warmDonors = async (who: Onboarded, n: number): Promise<number[]> => {
      const ids = s.control
        .records(who.org, 'donor')
        .filter((d) => Boolean((d as { email?: string | null }).email))
        .map((d) => (d as { id: number }).id)
        .slice(0, n);
      for (const donorId of ids) {
        s.control.createRecord(who.org, 'gift', { donorId, isTestMode: false });
      }
      const deadline = Date.now() + 120_000;
      while ((await warehouseGifts(db, who.customerId)) < ids.length) {
        if (Date.now() > deadline) {
          throw new Error(`the warm-up gifts of ${who.org} did not arrive`);
        }
        await sleep(200);
      }
      return ids;
    };

    const b = await onboard('b', true);
    const donorsWithEmail = await warmDonors(b, 10);

    /**
     * B makes a live change every B_EVERY_MS until `until()` holds, then waits for every change
     * to reach both destinations; returns the latencies (arrival minus source-modified time).
     */
    const probeB = async (until: () => boolean): Promise<Latencies> => {
      const made = new Map<string, number>();
      while (!until()) {
        const donorId = donorsWithEmail[made.size % donorsWithEmail.length];
        const gift = s.control.createRecord(b.org, 'gift', {
          donorId,
          isTestMode: false,
          statusText: 'Success',
        }) as unknown as { id: number; modifiedDate: string };
        made.set(String(gift.id), new Date(gift.modifiedDate).getTime());
        await sleep(B_EVERY_MS);
      }
      const ids = [...made.keys()];
      const arrived = async (): Promise<{ wh: Map<string, number>; crm: Map<string, number> }> => {
        const rows = await db.query<Array<{ source_id: string; synced_at: Date }>>(
          `SELECT source_id, synced_at FROM warehouse.raise_gift WHERE customer_id = $1 AND source_id = ANY($2::text[])`,
          [b.customerId, ids],
        );
        return {
          wh: new Map(rows.map((r) => [r.source_id, new Date(r.synced_at).getTime()])),
          crm: new Map(
            s.destinations
              .crmGifts(b.crm)
              .filter((g) => made.has(g.transactionId))
              .map((g) => [g.transactionId, new Date(g.createdAt).getTime()]),
          ),
        };
      };
      const deadline = Date.now() + 120_000;
      let seen = await arrived();
      while ((seen.wh.size < ids.length || seen.crm.size < ids.length) && Date.now() < deadline) {
        await sleep(200);
        seen = await arrived();
      }
      const latency = (at: Map<string, number>): number[] =>
        [...at].map(([id, t]) => t - (made.get(id) ?? t));
      const acked = new Map(
        s.control
          .webhookDeliveries(b.org)
          .filter((d) => d.success && made.has(String(d.contextId)))
          .map((d) => [String(d.contextId), new Date(d.at).getTime() + d.durationMs]),
      );
      return {
        ack: percentiles(latency(acked)),
        warehouse: percentiles(latency(seen.wh)),
        crm: percentiles(latency(seen.crm)),
        missing: 2 * ids.length - seen.wh.size - seen.crm.size,
      };
    };

    // 1. B alone.
    const aloneUntil = Date.now() + ALONE_MS;
    const alone = await probeB(() => Date.now() >= aloneUntil);

    // 2. A backfills; B goes on.
    const a = await onboard('a', false);
    const gate = submitterLagGate(kafka, topics, GATE);
    const producer = new EventProducer(kafka, codec);
    await producer.connect();
    let backfillPublished = false;
    const backfillStart = Date.now();
    const backfill = (async () => {
      const all = backfillGifts(a.customerId, BACKFILL);
      for (let i = 0; i < all.length; i += PAGE) {
        await gate?.waitBelowLimit();
        await producer.publish(topics.bulkEvents('raise', 'gift'), all.slice(i, i + PAGE));
      }
      backfillPublished = true;
    })();
    let backfillSeconds = NaN;
    const during = probeB(() => {
      if (backfillPublished && Number.isNaN(backfillSeconds)) {
        void warehouseGifts(db, a.customerId).then((n) => {
          if (n >= BACKFILL && Number.isNaN(backfillSeconds)) {
            backfillSeconds = (Date.now() - backfillStart) / 1000;
          }
        });
      }
      return !Number.isNaN(backfillSeconds);
    });
    await backfill;
    const backfillLatencies = await during;
    await producer.disconnect();

    // 3. C bursts to a slow CRM+; B goes on.
    const c = await onboard('c', true);
    const cDonors = await warmDonors(c, 20);
    const cBefore = await warehouseGifts(db, c.customerId);
    const cCrmBefore = s.destinations.crmGifts(c.crm).length;
    s.destinations.setDestinationFaults(c.crm, { latencyMs: CRM_LATENCY_MS });
    let burstAcked = NaN;
    let burstDrained = NaN;
    const burstStart = Date.now();
    const burst = (async () => {
      const ticks = BURST_SECONDS * 10;
      for (let t = 0; t < ticks; t += 1) {
        const upTo = Math.round((BURST * (t + 1)) / ticks);
        const from = Math.round((BURST * t) / ticks);
        for (let i = from; i < upTo; i += 1) {
          s.control.createRecord(c.org, 'gift', {
            donorId: cDonors[i % cDonors.length],
            isTestMode: false,
          });
        }
        await sleep(Math.max(0, burstStart + (t + 1) * 100 - Date.now()));
      }
      await s.control.flushWebhooks();
      burstAcked = (Date.now() - burstStart) / 1000;
    })();
    const burstLatencies = await probeB(() => {
      if (!Number.isNaN(burstAcked) && Number.isNaN(burstDrained)) {
        void warehouseGifts(db, c.customerId).then((n) => {
          if (n >= cBefore + BURST && Number.isNaN(burstDrained)) {
            burstDrained = (Date.now() - burstStart) / 1000;
          }
        });
      }
      // At least the burst's minute, and until C's warehouse has all of it (or 5 minutes).
      return !Number.isNaN(burstDrained) || Date.now() - burstStart > 300_000;
    });
    await burst;
    const burstCrmDelivered = s.destinations.crmGifts(c.crm).length - cCrmBefore;
    return {
      floorRate: floor.recordsPerSecond,
      alone,
      backfill: backfillLatencies,
      burst: burstLatencies,
      backfillRate: BACKFILL / backfillSeconds,
      backfillSeconds,
      burstAckSeconds: burstAcked,
      burstDrainRate: BURST / burstDrained,
      burstDrainSeconds: burstDrained,
      burstCrmDelivered,
    };
  } finally {
    for (const service of services.reverse()) {
      await service.stop();
    }
    await sim?.stop();
    await database.drop();
  }
}

const ms = (n: number): string => (Number.isFinite(n) ? `${Math.round(n)}` : 'n/a');

function printRun(label: string, f: RunFigures): void {
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out(`\n${label}`);
  out(
    `${'B live latency (source-modified to arrival)'.padEnd(52)} ${'dest'.padEnd(9)} ${'n'.padStart(5)} ${'p50'.padStart(6)} ${'p95'.padStart(6)} ${'p99'.padStart(6)} ms  target p99`,
  );
  const rows: Array<[string, Latencies, number | null]> = [
    ['alone', f.alone, null],
    [`during A's ${BACKFILL}-gift backfill`, f.backfill, TARGET_BACKFILL_MS],
    [`during C's ${BURST}-webhook burst, CRM+ ${CRM_LATENCY_MS} ms`, f.burst, TARGET_BURST_MS],
  ];
  for (const [name, l, target] of rows) {
    for (const [dest, x] of [
      ['ack', l.ack],
      ['warehouse', l.warehouse],
      ['crm-plus', l.crm],
    ] as const) {
      out(
        `${name.padEnd(52)} ${dest.padEnd(9)} ${ms(x.n).padStart(5)} ${ms(x.p50).padStart(6)} ${ms(x.p95).padStart(6)} ${ms(x.p99).padStart(6)}     ${target === null ? '' : `<= ${target} ${x.p99 <= target ? 'met' : 'NOT met'}`}`,
      );
    }
    if (l.missing > 0) {
      out(`  ${l.missing} of B's deliveries did not arrive within 120 s`);
    }
  }
  out(
    `${'drain into the warehouse'.padEnd(52)} ${'seconds'.padStart(8)} ${'records/s'.padStart(10)}  vs floor`,
  );
  out(
    `${'floor: bare consumer loop + same batched upserts'.padEnd(52)} ${''.padStart(8)} ${ms(f.floorRate).padStart(10)}  1.00x`,
  );
  out(
    `${`A's backfill (${BACKFILL}), B live meanwhile`.padEnd(52)} ${f.backfillSeconds.toFixed(1).padStart(8)} ${ms(f.backfillRate).padStart(10)}  ${(f.backfillRate / f.floorRate).toFixed(2)}x`,
  );
  out(
    `${`C's burst (${BURST} webhooks, acked in ${f.burstAckSeconds.toFixed(0)} s)`.padEnd(52)} ${f.burstDrainSeconds.toFixed(1).padStart(8)} ${ms(f.burstDrainRate).padStart(10)}  ${(f.burstDrainRate / f.floorRate).toFixed(2)}x (bound by the webhooks' arrival)`,
  );
  out(
    `C's CRM+ at ${CRM_LATENCY_MS} ms per request: ${f.burstCrmDelivered} of ${BURST} gifts delivered by then; the rest waits in C's lane`,
  );
}

async function main(): Promise<void> {
  process.stdout.write(
    `fairness benchmark: ${RUNS} run(s); B makes a live change every ${B_EVERY_MS} ms\n`,
  );
  const runs: RunFigures[] = [];
  for (let r = 0; r < RUNS; r += 1) {
    const figures = await oneRun(r);
    runs.push(figures);
    printRun(`run ${r + 1} of ${RUNS}`, figures);
  }
  if (RUNS > 1) {
    const med = (pick: (f: RunFigures) => number): number => median(runs.map(pick));
    const medPct = (pick: (f: RunFigures) => Percentiles): Percentiles => ({
      n: med((f) => pick(f).n),
      p50: med((f) => pick(f).p50),
      p95: med((f) => pick(f).p95),
      p99: med((f) => pick(f).p99),
    });
    const medLat = (pick: (f: RunFigures) => Latencies): Latencies => ({
      ack: medPct((f) => pick(f).ack),
      warehouse: medPct((f) => pick(f).warehouse),
      crm: medPct((f) => pick(f).crm),
      missing: med((f) => pick(f).missing),
    });
    printRun(`medians of ${RUNS} runs (each figure the median of the runs' figures)`, {
      floorRate: med((f) => f.floorRate),
      alone: medLat((f) => f.alone),
      backfill: medLat((f) => f.backfill),
      burst: medLat((f) => f.burst),
      backfillRate: med((f) => f.backfillRate),
      backfillSeconds: med((f) => f.backfillSeconds),
      burstAckSeconds: med((f) => f.burstAckSeconds),
      burstDrainRate: med((f) => f.burstDrainRate),
      burstDrainSeconds: med((f) => f.burstDrainSeconds),
      burstCrmDelivered: med((f) => f.burstCrmDelivered),
    });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
