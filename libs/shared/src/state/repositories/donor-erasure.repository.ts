import type { DataSource, EntityManager } from 'typeorm';
import { customerScope, type CustomerScope } from '../customer-scope';

export const ERASURE_TRIGGERS = ['admin', 'cli', 'isGDPRDeleted'] as const;
/** How an erasure was asked for: the admin API, the CLI, or a Raise donor flagged isGDPRDeleted. */
export type ErasureTrigger = (typeof ERASURE_TRIGGERS)[number];

/** What a destination did for an erasure ('archived', 'not_supported', …); never the data. */
export type ErasureDestinationOutcome = Record<string, string>;

/** The record that a donor was erased: who, when, how, how many rows; none of the donor's data. */
export interface DonorErasureView {
  customerId: string;
  donorId: string;
  status: 'pending' | 'completed';
  trigger: ErasureTrigger;
  requestedBy: string;
  requestedAt: Date;
  completedAt: Date | null;
  /** Rows redacted or deleted per table. */
  rowsRedacted: Record<string, number>;
  /** Per destination name: what it did ('archived', 'not_supported', …). */
  destinations: ErasureDestinationOutcome;
}

/** The source IDs of the records that carry the donor's data besides the donor itself. */
export interface DonorRecordIds {
  gifts: readonly string[];
  recurringGifts: readonly string[];
}

/**
 * One table's redaction: a statement over `{customer}` (the customer ID), `{donor}` (the donor
 * ID), `{gifts}` and `{recurringGifts}` (text[] of the donor's gift and recurring gift IDs),
 * bound as parameters; its row count is recorded under `table`. Redacting a payload means removing it (NULL, or the row when it is only a copy),
 * not re-encoding the Avro: the bytes are a Confluent-framed event whose schema only the
 * registry knows, and an event with its personal fields blanked would be delivered as if the
 * donor had blanked them.
 */
export interface ErasureStep {
  table: string;
  sql: string;
}

/** The donor's own rows, and its gifts' and recurring gifts' rows, of a table with resource/source_id. */
const donorRecords = (alias: string): string => `(
     (${alias}.resource = 'donor' AND ${alias}.source_id = {donor})
  OR (${alias}.resource = 'gift' AND ${alias}.source_id = ANY ({gifts}))
  OR (${alias}.resource = 'recurring_gift' AND ${alias}.source_id = ANY ({recurringGifts})))`;

const ERASED = `'[erased]'`;

/**
 * Every place the state store and the warehouse keep a donor's personal data (names, emails,
 * phones, addresses, free-text errors that may quote them, cached source models), and how each
 * is redacted. Covering one more table is one more entry. Tables that hold no personal data
 * and are not listed: webhook_deliveries (a signature hash and Raise's delivery ID, never the
 * body), checkpoints, backfill_*, poll_schedule, delivery_counts, reconciliation_alerts
 * (counts and record IDs), customers/destinations (the customer's own settings).
 */
export const DONOR_ERASURE_STEPS: readonly ErasureStep[] = [
  {
    // Dead-letter payloads are the Avro event (donor, or a gift embedding donor name/email):
    // dropped with the headers and the error text; the letter is discarded (nothing to retry).
    table: 'dead_letters',
    sql: `UPDATE dead_letters d
             SET payload = NULL, headers = '{}'::jsonb, error_message = ${ERASED},
                 status = CASE WHEN d.status = 'open' THEN 'discarded' ELSE d.status END,
                 resolved_at = COALESCE(d.resolved_at, now())
           WHERE d.customer_id = {customer}
             AND (${donorRecords('d')} OR d.waiting_for = 'donor:' || {donor})
             AND (d.payload IS NOT NULL OR d.error_message <> ${ERASED})`,
  },
  {
    // A lane's parked copy (payload kept in PostgreSQL) is only a copy of a Kafka message: the
    // row goes, and the ledger counts it as skipped so received = delivered + skipped + … holds.
    table: 'retry_entries',
    sql: `WITH gone AS (
            DELETE FROM retry_entries r
             WHERE r.customer_id = {customer} AND r.payload IS NOT NULL AND ${donorRecords('r')}
            RETURNING r.destination_id),
          counted AS (
            INSERT INTO delivery_counts AS c (customer_id, destination_id, outcome, n)
            SELECT {customer}, destination_id, 'skipped', count(*) FROM gone GROUP BY destination_id
            ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = c.n + EXCLUDED.n)
          SELECT count(*)::int AS n FROM gone`,
  },
  {
    // A retry waiting in a retry topic keeps its bookkeeping row (the ledger's "in retry"); only
    // its error text can quote the donor.
    table: 'retry_entries.last_error',
    sql: `UPDATE retry_entries r SET last_error = ${ERASED}
           WHERE r.customer_id = {customer} AND ${donorRecords('r')} AND r.last_error <> ${ERASED}`,
  },
  {
    // The cached donor model that completes gifts arriving without their donor.
    table: 'related_records',
    sql: `DELETE FROM related_records WHERE customer_id = {customer} AND resource = 'donor' AND source_id = {donor}`,
  },
  {
    // Two-way sync: the fields we wrote back to Raise, kept to recognise the echo.
    table: 'write_intents',
    sql: `DELETE FROM write_intents WHERE customer_id = {customer} AND resource = 'donor' AND source_id = {donor}`,
  },
  {
    // The trail keeps when and where a version went (origin, topic, offset, status); error text
    // and the destination's record ID (a marketing member ID is the md5 of the email) go.
    table: 'audit_log',
    sql: `UPDATE audit_log a
             SET detail = a.detail - 'error' - 'destinationRecordId', error = NULL,
                 destination_record_id = NULL
           WHERE a.customer_id = {customer} AND ${donorRecords('a')}
             AND (a.error IS NOT NULL OR a.destination_record_id IS NOT NULL
                  OR a.detail ?| ARRAY['error', 'destinationRecordId'])`,
  },
  {
    // Sync state stays (it is what keeps an older copy from being sent again); its error text
    // and the marketing member ID (md5 of the email) go.
    table: 'sync_records',
    sql: `UPDATE sync_records s
             SET last_error = NULL,
                 destination_record_id = CASE WHEN d.kind = 'marketing' THEN NULL
                                              ELSE s.destination_record_id END
            FROM destinations d
           WHERE s.customer_id = {customer} AND d.id = s.destination_id AND ${donorRecords('s')}
             AND (s.last_error IS NOT NULL
                  OR (d.kind = 'marketing' AND s.destination_record_id IS NOT NULL))`,
  },
  {
    table: 'cross_product_arrivals',
    sql: `UPDATE cross_product_arrivals x SET details = '{}'::jsonb
           WHERE x.customer_id = {customer} AND x.details <> '{}'::jsonb
             AND ((x.resource = 'contact' AND x.raise_id = {donor})
                  OR (x.resource = 'gift' AND x.raise_id = ANY ({gifts})))`,
  },
  {
    // A discrepancy's details may show both sides' fields.
    table: 'reconciliation_discrepancies',
    sql: `UPDATE reconciliation_discrepancies r SET details = '{}'::jsonb
           WHERE r.customer_id = {customer} AND r.details <> '{}'::jsonb AND ${donorRecords('r')}`,
  },
  {
    // Records held for a fix in the source keep the event's payload: it goes, and an open hold
    // is resolved (it can never be sent again without its payload), moved in the ledger from
    // needs_source_fix to skipped so the balance still holds.
    table: 'source_fix_holds',
    sql: `WITH o AS (
            SELECT h.destination_id, h.event_id, h.status FROM source_fix_holds h
             WHERE h.customer_id = {customer} AND h.payload IS NOT NULL AND ${donorRecords('h')}
               FOR UPDATE
          ), c AS (
            SELECT destination_id, count(*)::bigint AS n FROM o WHERE status = 'open' GROUP BY destination_id
          ), fix AS (
            UPDATE delivery_counts d SET n = d.n - c.n FROM c
             WHERE d.customer_id = {customer} AND d.destination_id = c.destination_id
               AND d.outcome = 'needs_source_fix'
            RETURNING 1
          ), skip AS (
            INSERT INTO delivery_counts AS d (customer_id, destination_id, outcome, n)
            SELECT {customer}, destination_id, 'skipped', n FROM c
            ON CONFLICT (customer_id, destination_id, outcome) DO UPDATE SET n = d.n + EXCLUDED.n
            RETURNING 1
          )
          UPDATE source_fix_holds h
             SET payload = NULL, message_key = NULL, headers = '{}'::jsonb, error_message = 'erased',
                 status = CASE WHEN h.status = 'open' THEN 'resolved' ELSE h.status END, updated_at = now()
            FROM o WHERE h.destination_id = o.destination_id AND h.event_id = o.event_id`,
  },
  {
    // Anonymised, not deleted: the row stays as a tombstone (deleted_at), so a late older
    // upsert can never bring the donor back, and its gifts still join to a donor key.
    table: 'warehouse.raise_donor',
    sql: `UPDATE warehouse.raise_donor w
             SET name = NULL, first_name = NULL, last_name = NULL, email = NULL,
                 email_opt_in = NULL, phone = NULL, organization_name = NULL, crm_key = NULL,
                 crm_second_key = NULL, address_city = NULL, address_state = NULL,
                 address_postal = NULL, address_country = NULL, raw = NULL,
                 deleted_at = COALESCE(w.deleted_at, now())
           WHERE w.customer_id = {customer} AND w.source_id = {donor}`,
  },
  {
    // Gifts keep their amounts and keys; the donor's email and the raw model (which embeds the
    // donor) go.
    table: 'warehouse.raise_gift',
    sql: `UPDATE warehouse.raise_gift w SET donor_email = NULL, raw = NULL
           WHERE w.customer_id = {customer} AND (w.donor_id = {donor} OR w.source_id = ANY ({gifts}))
             AND (w.donor_email IS NOT NULL OR w.raw IS NOT NULL)`,
  },
  {
    table: 'warehouse.raise_recurring_gift',
    sql: `UPDATE warehouse.raise_recurring_gift w SET raw = NULL
           WHERE w.customer_id = {customer} AND (w.donor_id = {donor} OR w.source_id = ANY ({recurringGifts}))
             AND w.raw IS NOT NULL`,
  },
];

/** A payload of a gift or recurring gift kept in the state store, to find the donor's own. */
export interface StoredPayload {
  resource: 'gift' | 'recurring_gift';
  sourceId: string;
  payload: Buffer;
}

interface ErasureRow {
  customer_id: string;
  donor_id: string;
  status: 'pending' | 'completed';
  trigger: ErasureTrigger;
  requested_by: string;
  requested_at: Date;
  completed_at: Date | null;
  rows_redacted: Record<string, number>;
  destinations: ErasureDestinationOutcome;
}

const viewOf = (row: ErasureRow): DonorErasureView => ({
  customerId: row.customer_id,
  donorId: row.donor_id,
  status: row.status,
  trigger: row.trigger,
  requestedBy: row.requested_by,
  requestedAt: row.requested_at,
  completedAt: row.completed_at,
  rowsRedacted: row.rows_redacted,
  destinations: row.destinations,
});

const COLUMNS = `customer_id, donor_id, status, trigger, requested_by, requested_at, completed_at,
  rows_redacted, destinations`;

/**
 * The donor_erasures table's one owner, and the one writer that removes a donor's personal data
 * from every table of the state store and the warehouse (DONOR_ERASURE_STEPS), in one
 * transaction with the erasure row locked, so two callers never run it at once and a finished
 * erasure is never run again.
 */
export class DonorErasureRepository {
  constructor(private readonly db: DataSource | EntityManager) {}

  async get({ customerId }: CustomerScope, donorId: string): Promise<DonorErasureView | null> {
    const rows: ErasureRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM donor_erasures WHERE customer_id = $1 AND donor_id = $2`,
      [customerId, donorId],
    );
    return rows[0] ? viewOf(rows[0]) : null;
  }

  /** Which of these donors were erased (completed) or are being erased (pending). */
  async erasedAmong(
    { customerId }: CustomerScope,
    donorIds: readonly string[],
  ): Promise<Set<string>> {
    if (donorIds.length === 0) {
      return new Set();
    }
    const rows: Array<{ donor_id: string }> = await this.db.query(
      `SELECT donor_id FROM donor_erasures WHERE customer_id = $1 AND donor_id = ANY ($2::text[])`,
      [customerId, [...new Set(donorIds)]],
    );
    return new Set(rows.map((r) => r.donor_id));
  }

  /**
   * Records that an erasure was asked for (status pending), unless one is: the first request's
   * who, when and trigger are kept.
   */
  async request(
    { customerId }: CustomerScope,
    donorId: string,
    trigger: ErasureTrigger,
    requestedBy: string,
  ): Promise<DonorErasureView> {
    await this.db.query(
      `INSERT INTO donor_erasures (customer_id, donor_id, trigger, requested_by)
       VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id, donor_id) DO NOTHING`,
      [customerId, donorId, trigger, requestedBy],
    );
    const view = await this.get(customerScope(customerId), donorId);
    return view as DonorErasureView;
  }

  /**
   * The emails the state store and the warehouse know for the donor (its cached model, its
   * warehouse row, its gifts' donor email): what a destination keyed by email (marketing) needs
   * to find the person, read before they are erased.
   */
  async knownEmails({ customerId }: CustomerScope, donorId: string): Promise<string[]> {
    const rows: Array<{ email: string | null }> = await this.db.query(
      `SELECT model->>'email' AS email FROM related_records
        WHERE customer_id = $1 AND resource = 'donor' AND source_id = $2
       UNION SELECT e->>'value' FROM related_records r,
              jsonb_array_elements(CASE WHEN jsonb_typeof(r.model->'donorEmailAddresses') = 'array'
                                        THEN r.model->'donorEmailAddresses' ELSE '[]'::jsonb END) e
        WHERE r.customer_id = $1 AND r.resource = 'donor' AND r.source_id = $2
       UNION SELECT email FROM warehouse.raise_donor WHERE customer_id = $1 AND source_id = $2
       UNION SELECT donor_email FROM warehouse.raise_gift WHERE customer_id = $1 AND donor_id = $2`,
      [customerId, donorId],
    );
    return [
      ...new Set(
        rows.map((r) => r.email?.trim().toLowerCase() ?? '').filter((e) => e.includes('@')),
      ),
    ];
  }

  /** The gift and recurring gift IDs the warehouse knows for the donor. */
  async warehouseRecordIds(
    { customerId }: CustomerScope,
    donorId: string,
  ): Promise<DonorRecordIds> {
    const rows: Array<{ resource: string; source_id: string }> = await this.db.query(
      `SELECT 'gift' AS resource, source_id FROM warehouse.raise_gift
        WHERE customer_id = $1 AND donor_id = $2
       UNION ALL SELECT 'recurring_gift', source_id FROM warehouse.raise_recurring_gift
        WHERE customer_id = $1 AND donor_id = $2`,
      [customerId, donorId],
    );
    return {
      gifts: rows.filter((r) => r.resource === 'gift').map((r) => r.source_id),
      recurringGifts: rows.filter((r) => r.resource === 'recurring_gift').map((r) => r.source_id),
    };
  }

  /**
   * The customer's stored gift and recurring gift payloads (dead letters, parked lane copies):
   * the caller decodes them to find the ones naming the donor.
   */
  async giftPayloads({ customerId }: CustomerScope): Promise<StoredPayload[]> {
    const rows: Array<{ resource: 'gift' | 'recurring_gift'; source_id: string; payload: Buffer }> =
      await this.db.query(
        `SELECT resource, source_id, payload FROM dead_letters
          WHERE customer_id = $1 AND resource IN ('gift', 'recurring_gift') AND payload IS NOT NULL
         UNION ALL SELECT resource, source_id, payload FROM retry_entries
          WHERE customer_id = $1 AND resource IN ('gift', 'recurring_gift') AND payload IS NOT NULL`,
        [customerId],
      );
    return rows.map((r) => ({ resource: r.resource, sourceId: r.source_id, payload: r.payload }));
  }

  /**
   * Runs every step for the donor and its records in one transaction and completes the erasure
   * record (requested first with `request`): counts per table, the destinations' outcomes, and
   * an 'erased' row in the record's audit trail. A completed erasure is returned as it is.
   */
  async complete(
    { customerId }: CustomerScope,
    donorId: string,
    records: DonorRecordIds,
    destinations: ErasureDestinationOutcome,
  ): Promise<DonorErasureView> {
    const run = async (tx: EntityManager): Promise<DonorErasureView> => {
      const locked: ErasureRow[] = await tx.query(
        `SELECT ${COLUMNS} FROM donor_erasures WHERE customer_id = $1 AND donor_id = $2 FOR UPDATE`,
        [customerId, donorId],
      );
      const row = locked[0];
      if (!row) {
        throw new Error('no erasure was requested for this donor');
      }
      if (row.status === 'completed') {
        return viewOf(row);
      }
      const values: Record<Placeholder, unknown> = {
        customer: customerId,
        donor: donorId,
        gifts: [...records.gifts],
        recurringGifts: [...records.recurringGifts],
      };
      const counts: Record<string, number> = {};
      for (const step of DONOR_ERASURE_STEPS) {
        const [sql, params] = bind(step.sql, values);
        counts[step.table] = (counts[step.table] ?? 0) + (await affected(tx, sql, params));
      }
      await tx.query(
        `INSERT INTO audit_log (customer_id, resource, source_id, action, to_status, detail)
         VALUES ($1, 'donor', $2, 'erased', 'erased', jsonb_build_object('trigger', $3::text))`,
        [customerId, donorId, row.trigger],
      );
      await tx.query(
        `UPDATE donor_erasures SET status = 'completed', completed_at = now(),
                rows_redacted = $3, destinations = $4
          WHERE customer_id = $1 AND donor_id = $2`,
        [customerId, donorId, JSON.stringify(counts), JSON.stringify(destinations)],
      );
      const done: ErasureRow[] = await tx.query(
        `SELECT ${COLUMNS} FROM donor_erasures WHERE customer_id = $1 AND donor_id = $2`,
        [customerId, donorId],
      );
      return viewOf(done[0] as ErasureRow);
    };
    return this.db.transaction(run);
  }
}

type Placeholder = 'customer' | 'donor' | 'gifts' | 'recurringGifts';
const PLACEHOLDER_TYPES: Record<Placeholder, string> = {
  customer: 'uuid',
  donor: 'text',
  gifts: 'text[]',
  recurringGifts: 'text[]',
};

/** A step's statement with its `{name}` placeholders numbered ($1, …) and their values. */
export function bind(sql: string, values: Record<Placeholder, unknown>): [string, unknown[]] {
  const order: Placeholder[] = [];
  const text = sql.replace(
    /\{(customer|donor|gifts|recurringGifts)\}/g,
    (_m, name: Placeholder) => {
      const index = order.includes(name) ? order.indexOf(name) : order.push(name) - 1;
      return `$${index + 1}::${PLACEHOLDER_TYPES[name]}`;
    },
  );
  return [text, order.map((name) => values[name])];
}

/** Rows a statement touched: UPDATE/DELETE report them, a `SELECT … AS n` returns them. */
async function affected(tx: EntityManager, sql: string, params: unknown[]): Promise<number> {
  const result: unknown = await tx.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'number') {
    return result[1];
  }
  const first: unknown = Array.isArray(result) && result.length === 1 ? result[0] : undefined;
  const n = (first as { n?: unknown } | undefined)?.n;
  return typeof n === 'number' ? n : 0;
}
