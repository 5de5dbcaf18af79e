import { customerScope } from '@raise-sync/shared/state';
import { useTestStack } from '@raise-sync/testing';
import { ConsoleRepository } from './console.repository';

describe("console: a source's last webhook (real PostgreSQL)", () => {
  const stack = useTestStack();

  it('comes from webhook_last_deliveries, so it outlives the pruned replay records', async () => {
    const [row] = await stack.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO customers (name, status) VALUES ('Quiet Shelter', 'live') RETURNING id`,
    );
    const customerId = row?.id ?? '';
    await stack.dataSource.query(
      `INSERT INTO customer_sources (customer_id, source) VALUES ($1, 'raise'), ($1, 'vomo')`,
      [customerId],
    );
    // Its last webhook two days ago: the replay record went ten minutes after it.
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await stack.dataSource.query(
      `INSERT INTO webhook_last_deliveries (customer_id, source, received_at, delivery_id)
       VALUES ($1, 'raise', $2, 'dlv-9')`,
      [customerId, twoDaysAgo],
    );
    const repository = new ConsoleRepository(stack.dataSource);
    const lastWebhook = async () =>
      (await repository.sources(customerScope(customerId))).map((s) => [
        s.source,
        s.last_webhook ? new Date(s.last_webhook).getTime() : null,
      ]);
    expect(await lastWebhook()).toEqual([
      ['raise', twoDaysAgo.getTime()],
      ['vomo', null],
    ]);

    // During a rolling deploy an ingest of the previous release writes only the replay record:
    // the later of the two shows.
    const [fresh] = await stack.dataSource.query<Array<{ received_at: Date }>>(
      `INSERT INTO webhook_deliveries (customer_id, source, signature_hash) VALUES ($1, 'raise', 'sig')
       RETURNING received_at`,
      [customerId],
    );
    expect(await lastWebhook()).toEqual([
      ['raise', fresh?.received_at.getTime()],
      ['vomo', null],
    ]);
  });
});
