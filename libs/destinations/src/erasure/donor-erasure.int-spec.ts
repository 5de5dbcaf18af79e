import { randomBytes, randomUUID } from 'node:crypto';
import { SecretBox } from '@raise-sync/shared/crypto';
import { newSourceEvent, type SourceEvent } from '@raise-sync/shared/events';
import { EventCodec, topicsFor } from '@raise-sync/shared/kafka';
import {
  CustomerRepository,
  DestinationRepository,
  DonorErasureRepository,
  customerScope,
  type CustomerScope,
} from '@raise-sync/shared/state';
import { type Simulator, startSimulator, subscriberHash } from '@raise-sync/simulators';
import { SAMPLE_RECORDS } from '@raise-sync/testing/fixtures';
import { useTestStack } from '@raise-sync/testing';
import { AdapterRegistry } from '../adapter-registry';
import { destinationContext } from '../destination-context';
import type { DestinationContext } from '../port';
import { DonorErasureService } from './donor-erasure.service';

/** Two donors of one customer: A is erased, B must keep every byte. */
const A = {
  id: '77001',
  firstName: 'Zelda',
  lastName: 'Erasmus',
  email: 'zelda.erasmus@example.org',
  phone: '+44 7700 900123',
  street: '12 Quillstone Lane',
};
const B = {
  id: '77002',
  firstName: 'Bertram',
  lastName: 'Quincey',
  email: 'bertram.quincey@example.org',
  phone: '+44 7700 900456',
  street: '9 Harbour Row',
};
type Person = typeof A;
const needlesOf = (p: Person): string[] => [p.firstName, p.lastName, p.email, p.phone, p.street];

const at = new Date('2026-11-20T10:00:00.000Z');

function donorModel(p: Person): Record<string, unknown> {
  return {
    id: Number(p.id),
    name: `${p.firstName} ${p.lastName}`,
    firstName: p.firstName,
    lastName: p.lastName,
    email: p.email,
    phone: p.phone,
    isGDPRDeleted: false,
    modifiedDate: at.toISOString(),
    primaryAddress: { address1: p.street, city: 'Bristol', postal: 'BS1 4DJ' },
    donorEmailAddresses: [{ value: p.email, isPrimary: true }],
  };
}

function donorEvent(customerId: string, p: Person): SourceEvent {
  return newSourceEvent({
    customerId,
    source: 'raise',
    resource: 'donor',
    operation: 'upsert',
    origin: 'webhook',
    recordId: p.id,
    sourceModifiedAt: at,
    record: {
      ...SAMPLE_RECORDS.donor,
      id: p.id,
      name: `${p.firstName} ${p.lastName}`,
      firstName: p.firstName,
      lastName: p.lastName,
      email: p.email,
      phone: p.phone,
      raw: JSON.stringify(donorModel(p)),
    },
  });
}

function giftEvent(customerId: string, p: Person, giftId: string): SourceEvent {
  return newSourceEvent({
    customerId,
    source: 'raise',
    resource: 'gift',
    operation: 'upsert',
    origin: 'poll',
    recordId: giftId,
    sourceModifiedAt: at,
    record: {
      ...SAMPLE_RECORDS.gift,
      id: giftId,
      donorId: p.id,
      donorEmail: p.email,
      raw: JSON.stringify({ id: Number(giftId), amount: 10, donor: donorModel(p) }),
    },
  });
}

describe('DonorErasureService on real PostgreSQL, registry and the marketing simulator', () => {
  const stack = useTestStack();
  const box = new SecretBox(randomBytes(32));
  let sim: Simulator;
  let codec: EventCodec;
  let scope: CustomerScope;
  let contexts: DestinationContext[];
  const customerId = randomUUID();

  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> =>
    stack.dataSource.query(sql, params);

  /** Rows per table (public and warehouse schemas) whose JSON text contains the needle. */
  async function rowsNaming(needle: string): Promise<Record<string, number>> {
    const tables = await q<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
        WHERE table_schema IN ('public', 'warehouse') AND table_type = 'BASE TABLE'`,
    );
    const found: Record<string, number> = {};
    for (const { name } of tables) {
      const [row] = await q<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${name} t WHERE row_to_json(t)::text ILIKE $1`,
        [`%${needle}%`],
      );
      if ((row?.n ?? 0) > 0) {
        found[name] = row?.n ?? 0;
      }
    }
    return found;
  }

  /** Every stored Avro payload, decoded, as JSON text (bytea is hex in row_to_json). */
  async function decodedPayloads(): Promise<string[]> {
    const rows = await q<{ payload: Buffer }>(
      `SELECT payload FROM dead_letters WHERE payload IS NOT NULL
       UNION ALL SELECT payload FROM retry_entries WHERE payload IS NOT NULL`,
    );
    const texts: string[] = [];
    for (const { payload } of rows) {
      const decoded = await codec.decode(payload);
      if (!decoded.ok) {
        throw decoded.error;
      }
      texts.push(JSON.stringify(decoded.event));
    }
    return texts;
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    sim.destinations.createAccount({
      kind: 'marketing',
      id: 'mkt-erasure',
      token: 'tok-mkt-erasure',
      listId: 'donors',
    });
    codec = new EventCodec(stack.registryUrl);
    scope = customerScope(customerId);
    await new CustomerRepository(stack.dataSource, box).create(scope, {
      name: 'Erasure Trust',
      status: 'live',
    });
    const destinations = new DestinationRepository(stack.dataSource);
    await destinations.replace(scope, [
      { name: 'warehouse', kind: 'warehouse', config: {}, secrets: undefined, enabled: true },
      {
        name: 'marketing',
        kind: 'marketing',
        config: { baseUrl: sim.marketingUrl, listId: 'donors' },
        secrets: box.sealJson({ token: 'tok-mkt-erasure' }),
        enabled: true,
      },
    ]);
    contexts = (await destinations.list(scope)).map((row) => destinationContext(row, box));
  });
  afterAll(async () => {
    await sim.stop();
  });

  async function fill(): Promise<void> {
    const adapters = AdapterRegistry.create({ dataSource: stack.dataSource });
    const topics = topicsFor(stack.prefix);
    const warehouse = contexts.find((c) => c.kind === 'warehouse') as DestinationContext;
    const marketing = contexts.find((c) => c.kind === 'marketing') as DestinationContext;
    let offset = 0;
    for (const [p, gifts] of [
      [A, ['88001', '88002']],
      [B, ['88101', '88102']],
    ] as const) {
      const donor = donorEvent(customerId, p);
      const [kept, onlyInPayloads] = gifts.map((g) => giftEvent(customerId, p, g)) as [
        SourceEvent,
        SourceEvent,
      ];
      // Delivered: warehouse rows (the second gift never reached the warehouse) and the member.
      for (const result of [
        ...(await adapters.get('warehouse').deliver(warehouse, [donor, kept])),
        ...(await adapters.get('marketing').deliver(marketing, [donor])),
      ]) {
        expect(result).toMatchObject({ outcome: 'delivered' });
      }
      const payload = (e: SourceEvent): Promise<Buffer> =>
        codec.encode(topics.sourceEvents('raise', e.resource), e);
      for (const [event, waiting] of [
        [donor, null],
        [onlyInPayloads, null],
        [kept, `donor:${p.id}`],
      ] as const) {
        offset += 1;
        await q(
          `INSERT INTO dead_letters (customer_id, destination_id, topic, partition, "offset", event_id,
             resource, source_id, reason, error_message, attempts, first_failed_at, status, payload,
             message_key, headers, waiting_for)
           VALUES ($1, $2, 'raise-sync.source.raise', 0, $3, $4, $5, $6, 'record_rejected', $7, 1,
             now(), 'open', $8, $9, $10, $11)`,
          [
            customerId,
            marketing.destinationId,
            offset,
            event.eventId,
            event.resource,
            event.recordId,
            `422: ${p.email} is not a valid address`,
            await payload(event),
            `${customerId}:${event.resource}:${event.recordId}`,
            JSON.stringify({ 'x-error-message': `${p.email} bounced` }),
            waiting,
          ],
        );
      }
      // A parked lane copy (payload kept) and a retry waiting in a retry topic (no payload).
      await q(
        `INSERT INTO retry_entries (destination_id, event_id, customer_id, resource, source_id, attempt,
           due_at, last_error, first_failed_at, parked_at, parked_seq, park_reason, payload,
           message_key, headers)
         VALUES ($1, $2, $3, 'gift', $4, 1, now(), $5, now(), now(), nextval('retry_entries_parked_seq'),
           'breaker_open', $6, $7, '{}'::jsonb),
                ($1, $8, $3, 'donor', $9, 1, now(), $5, now(), NULL, NULL, NULL, NULL, NULL, NULL)`,
        [
          marketing.destinationId,
          `${onlyInPayloads.eventId}-lane`,
          customerId,
          onlyInPayloads.recordId,
          `503 while writing ${p.email}`,
          await payload(onlyInPayloads),
          `${customerId}:gift:${onlyInPayloads.recordId}`,
          `${donor.eventId}-retry`,
          p.id,
        ],
      );
      await q(
        `INSERT INTO related_records (customer_id, resource, source_id, model, source_modified_at, learned_from)
         VALUES ($1, 'donor', $2, $3, $4, 'event')`,
        [customerId, p.id, JSON.stringify(donorModel(p)), at],
      );
      await q(
        `INSERT INTO write_intents (customer_id, resource, source_id, expected_fields, submitted_at, expires_at)
         VALUES ($1, 'donor', $2, $3, now(), now() + interval '1 hour')`,
        [customerId, p.id, JSON.stringify({ phone: p.phone })],
      );
      await q(
        `INSERT INTO audit_log (customer_id, resource, source_id, destination_id, event_id, action,
           from_status, to_status, detail, error, destination_record_id, origin)
         VALUES ($1, 'donor', $2, $3, $4, 'delivery', 'pending', 'failed',
                 $5, $6, $7, 'webhook'),
                ($1, 'gift', $8, $3, $9, 'delivery', 'pending', 'failed', '{}'::jsonb, $6, NULL, 'poll')`,
        [
          customerId,
          p.id,
          marketing.destinationId,
          donor.eventId,
          JSON.stringify({ error: `rejected ${p.email}` }),
          `rejected ${p.email}`,
          subscriberHash(p.email),
          kept.recordId,
          kept.eventId,
        ],
      );
      await q(
        `INSERT INTO sync_records (customer_id, resource, source_id, destination_id, status,
           destination_record_id, attempts, last_error, last_event_id, source_modified_at)
         VALUES ($1, 'donor', $2, $3, 'failed', $4, 1, $5, $6, $7),
                ($1, 'gift', $8, $3, 'failed', NULL, 1, $5, $9, $7)`,
        [
          customerId,
          p.id,
          marketing.destinationId,
          subscriberHash(p.email),
          `rejected ${p.email}`,
          donor.eventId,
          at,
          onlyInPayloads.recordId,
          onlyInPayloads.eventId,
        ],
      );
      await q(
        `INSERT INTO cross_product_arrivals (customer_id, resource, raise_id, raise_seen_at, details)
         VALUES ($1, 'contact', $2, now(), $3)`,
        [customerId, p.id, JSON.stringify({ email: p.email })],
      );
      const [run] = await q<{ id: string }>(
        `INSERT INTO reconciliation_runs (customer_id, kind, window_start, window_end, status, started_at)
         VALUES ($1, 'window', now() - interval '1 day', now(), 'done', now()) RETURNING id`,
        [customerId],
      );
      await q(
        `INSERT INTO reconciliation_discrepancies (run_id, customer_id, resource, source_id, state, actionable, details)
         VALUES ($1, $2, 'donor', $3, 'field_mismatch', true, $4)`,
        [run?.id, customerId, p.id, JSON.stringify({ source: { email: p.email } })],
      );
    }
  }

  it('leaves nothing of the erased donor in any table or payload, and the other donor untouched', async () => {
    await fill();
    for (const needle of [...needlesOf(A), ...needlesOf(B)]) {
      expect(Object.keys(await rowsNaming(needle)).length).toBeGreaterThan(0);
    }
    const bBefore = Object.fromEntries(
      await Promise.all(needlesOf(B).map(async (n) => [n, await rowsNaming(n)] as const)),
    );
    const payloadsBefore = await decodedPayloads();
    expect(payloadsBefore.some((t) => t.includes(A.email))).toBe(true);

    const service = new DonorErasureService(
      new DonorErasureRepository(stack.dataSource),
      AdapterRegistry.create({ dataSource: stack.dataSource }),
      codec,
    );
    const erasure = await service.erase(scope, A.id, contexts, {
      trigger: 'admin',
      requestedBy: 'dpo@trust.example',
    });

    for (const needle of needlesOf(A)) {
      expect({ needle, rows: await rowsNaming(needle) }).toEqual({ needle, rows: {} });
    }
    const payloadsAfter = await decodedPayloads();
    for (const needle of needlesOf(A)) {
      expect(payloadsAfter.filter((t) => t.includes(needle))).toEqual([]);
    }
    // B: the same rows as before, its payloads still there.
    for (const needle of needlesOf(B)) {
      expect(await rowsNaming(needle)).toEqual(bBefore[needle]);
    }
    expect(payloadsAfter.filter((t) => t.includes(B.email))).toHaveLength(
      payloadsBefore.filter((t) => t.includes(B.email)).length,
    );

    // The marketing member is archived; B's is not.
    const members = Object.fromEntries(
      sim.destinations.members('mkt-erasure').map((m) => [m.email_address, m.status]),
    );
    expect(members[A.email]).toBe('archived');
    expect(members[B.email]).not.toBe('archived');

    // The record: who, when, what, how; the gift only a payload named was found too.
    expect(erasure).toMatchObject({
      customerId,
      donorId: A.id,
      status: 'completed',
      trigger: 'admin',
      requestedBy: 'dpo@trust.example',
      destinations: { warehouse: 'anonymised', marketing: 'archived' },
    });
    expect(erasure.rowsRedacted).toMatchObject({
      dead_letters: 3,
      retry_entries: 1,
      'retry_entries.last_error': 1,
      related_records: 1,
      write_intents: 1,
      audit_log: 2,
      sync_records: 2,
      cross_product_arrivals: 1,
      reconciliation_discrepancies: 1,
      'warehouse.raise_donor': 1,
      'warehouse.raise_gift': 1,
    });
    expect(erasure.completedAt).toBeInstanceOf(Date);
    const [trail] = await q<{ action: string; to_status: string }>(
      `SELECT action, to_status FROM audit_log WHERE customer_id = $1 AND source_id = $2
        AND action = 'erased'`,
      [customerId, A.id],
    );
    expect(trail).toEqual({ action: 'erased', to_status: 'erased' });
    // The dropped lane copy counts as skipped: the ledger still balances.
    const [skipped] = await q<{ n: string }>(
      `SELECT n FROM delivery_counts WHERE customer_id = $1 AND outcome = 'skipped'`,
      [customerId],
    );
    expect(Number(skipped?.n)).toBe(1);

    // Idempotent: asking again changes nothing and answers the same record.
    const again = await service.erase(scope, A.id, contexts, {
      trigger: 'cli',
      requestedBy: 'someone else',
    });
    expect(again).toEqual(erasure);
  });
});
