import { Client } from 'pg';
import { useTestStack } from './test-stack';

describe('useTestStack isolation', () => {
  const first = useTestStack();
  const second = useTestStack();

  it('gives each user its own migrated database', async () => {
    expect(first.databaseUrl).not.toBe(second.databaseUrl);
    await first.dataSource.query('CREATE TABLE only_in_first (id int)');
    const tables = async (url: string): Promise<string[]> => {
      const client = new Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      await client.end();
      return rows.map((r) => r.t);
    };
    expect(await tables(first.databaseUrl)).toEqual(
      expect.arrayContaining(['only_in_first', 'customers', 'sync_records']),
    );
    expect(await tables(second.databaseUrl)).not.toContain('only_in_first');
    expect(await tables(second.databaseUrl)).toContain('customers');
  });

  it('gives each user its own topic prefix and reads its topics back', async () => {
    expect(first.prefix).not.toBe(second.prefix);
    const topic = `${first.prefix}.probe`;
    await first.createTopics([topic], 2);
    await first.kafka.write(topic, [
      { key: 'a', value: 'one' },
      { key: 'b', value: 'two' },
    ]);
    const read = await first.consumeAll(topic, { count: 2 });
    expect(read.map((m) => m.value?.toString()).sort()).toEqual(['one', 'two']);
  });

  it('sees the registry named by the environment', async () => {
    const response = await fetch(`${first.registryUrl}/subjects`);
    expect(response.status).toBe(200);
  });
});
