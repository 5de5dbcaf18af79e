import type { DataSource } from 'typeorm';
import { WriteIntentEntity } from '../entities/write-intent.entity';
import type { CustomerScope } from '../customer-scope';

/**
 * Write attribution for two-way sync: before the pipeline writes to a source (e.g. PATCH a Raise
 * donor), it records what it is about to write; when the source's webhook for that change comes
 * back, `takeEchoes` recognises it (same record, every written field equal, within the expiry)
 * and the change is not synced out again, so no loop forms.
 */
export class WriteIntentRepository {
  constructor(private readonly db: DataSource) {}

  async record(
    { customerId }: CustomerScope,
    resource: string,
    sourceId: string,
    expectedFields: Record<string, unknown>,
    ttlMs = 10 * 60_000,
  ): Promise<WriteIntentEntity> {
    const repo = this.db.getRepository(WriteIntentEntity);
    const now = new Date();
    return repo.save(
      repo.create({
        customerId,
        resource,
        sourceId,
        expectedFields,
        submittedAt: now,
        expiresAt: new Date(now.getTime() + ttlMs),
        matchedAt: null,
      }),
    );
  }

  /**
   * For each candidate record, whether it is the echo of an open intent; matched intents are
   * closed so a later, genuine change of the same fields is synced normally.
   */
  async takeEchoes(
    { customerId }: CustomerScope,
    resource: string,
    records: Array<{ sourceId: string; fields: Record<string, unknown> }>,
  ): Promise<Set<string>> {
    const echoes = new Set<string>();
    if (records.length === 0) {
      return echoes;
    }
    const open: Array<{ id: string; source_id: string; expected_fields: Record<string, unknown> }> =
      await this.db.query(
        `SELECT id, source_id, expected_fields FROM write_intents
          WHERE customer_id = $1 AND resource = $2 AND source_id = ANY($3::text[])
            AND matched_at IS NULL AND expires_at > now()
          ORDER BY submitted_at`,
        [customerId, resource, records.map((r) => r.sourceId)],
      );
    const matched: string[] = [];
    for (const record of records) {
      const intent = open.find(
        (i) =>
          i.source_id === record.sourceId &&
          !matched.includes(i.id) &&
          Object.entries(i.expected_fields).every(
            ([field, value]) =>
              JSON.stringify(record.fields[field] ?? null) === JSON.stringify(value),
          ),
      );
      if (intent) {
        matched.push(intent.id);
        echoes.add(record.sourceId);
      }
    }
    if (matched.length > 0) {
      await this.db.query(
        `UPDATE write_intents SET matched_at = now() WHERE id = ANY($1::uuid[])`,
        [matched],
      );
    }
    return echoes;
  }
}
