import { DestinationUnavailableError } from '@raise-sync/shared';
import { type Simulator, startSimulator } from '@raise-sync/simulators';
import { contextFor, deleteEvent, upsertEvent } from '../../test/fixtures';
import { WebhookAdapter } from './webhook.adapter';

describe('WebhookAdapter against the webhook receiver simulator', () => {
  let sim: Simulator;
  const adapter = new WebhookAdapter();

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    sim.destinations.createAccount({
      kind: 'webhook',
      id: 'hook-a',
      secret: 'hook-secret-0123456789',
    });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('delivers signed events the receiver accepts, and a redelivery is recognised as a duplicate', async () => {
    const ctx = contextFor(
      'webhook',
      { url: `${sim.hooksUrl}/hook-a` },
      { secret: 'hook-secret-0123456789' },
    );
    const events = [upsertEvent('gift'), deleteEvent('donor', '48213')];
    await expect(adapter.deliver(ctx, events)).resolves.toEqual([
      { outcome: 'delivered', destinationRecordId: null },
      { outcome: 'delivered', destinationRecordId: null },
    ]);
    await adapter.deliver(ctx, [events[0]!]);
    const deliveries = sim.destinations.hookDeliveries('hook-a');
    expect(
      deliveries.map((d) => [d.recordId, (d.body as { operation: string }).operation]),
    ).toEqual([
      ['900113', 'upsert'],
      ['48213', 'delete'],
    ]);
    expect(sim.destinations.hookDuplicates('hook-a')).toHaveLength(1);
  });

  it('is refused with a wrong secret (credentials problem, retriable)', async () => {
    const ctx = contextFor(
      'webhook',
      { url: `${sim.hooksUrl}/hook-a` },
      { secret: 'wrong-secret-000' },
    );
    const [result] = await adapter.deliver(ctx, [upsertEvent('user')]);
    expect(result).toBeInstanceOf(DestinationUnavailableError);
    expect((result as Error).message).toMatch(/credentials rejected/);
  });
});
