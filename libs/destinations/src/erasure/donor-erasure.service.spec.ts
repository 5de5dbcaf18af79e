import { DestinationUnavailableError } from '@raise-sync/shared';
import type { EventCodec } from '@raise-sync/shared/kafka';
import {
  customerScope,
  type DonorErasureRepository,
  type DonorErasureView,
} from '@raise-sync/shared/state';
import { contextFor } from '../../test/fixtures';
import { AdapterRegistry } from '../adapter-registry';
import type { DestinationAdapter, ErasedPerson } from '../port';
import { DonorErasureService } from './donor-erasure.service';

const scope = customerScope('6f1c1c1e-8d7e-4b8e-9a51-0f3f4c2a9b10');

/** The repository as the service uses it, in memory. */
function fakeRepository(emails: string[] = ['ada@example.org']) {
  let row: DonorErasureView | null = null;
  const completed: Array<Record<string, string>> = [];
  const repository = {
    get: () => Promise.resolve(row),
    request: (_s: unknown, donorId: string, trigger: DonorErasureView['trigger'], by: string) => {
      row ??= {
        customerId: scope.customerId,
        donorId,
        status: 'pending',
        trigger,
        requestedBy: by,
        requestedAt: new Date(),
        completedAt: null,
        rowsRedacted: {},
        destinations: {},
      };
      return Promise.resolve(row);
    },
    knownEmails: () => Promise.resolve(emails),
    warehouseRecordIds: () => Promise.resolve({ gifts: [], recurringGifts: [] }),
    giftPayloads: () => Promise.resolve([]),
    complete: (_s: unknown, _d: string, _r: unknown, destinations: Record<string, string>) => {
      completed.push(destinations);
      row = {
        ...(row as DonorErasureView),
        status: 'completed',
        completedAt: new Date(),
        destinations,
      };
      return Promise.resolve(row);
    },
  };
  return { repository: repository as unknown as DonorErasureRepository, completed, row: () => row };
}

function marketing(erase: (person: ErasedPerson) => Promise<string>): DestinationAdapter {
  return {
    kind: 'marketing',
    accepts: () => true,
    deliver: () => Promise.resolve([]),
    lookup: () => Promise.reject(new Error('no lookup')),
    health: () => Promise.resolve(),
    erasePerson: (_ctx, person) => erase(person),
  };
}

const codec = {} as EventCodec;
const contexts = [
  contextFor('marketing', {}, {}, { name: 'marketing' }),
  contextFor('crm-plus', {}, {}, { name: 'crm-plus' }),
  contextFor('warehouse', {}, {}, { name: 'warehouse' }),
];

describe(DonorErasureService.name, () => {
  it('asks each destination that can erase a person, with every known email, then redacts the state', async () => {
    const fake = fakeRepository(['ada@example.org']);
    const asked: ErasedPerson[] = [];
    const service = new DonorErasureService(
      fake.repository,
      new AdapterRegistry([marketing((p) => (asked.push(p), Promise.resolve('archived')))]),
      codec,
    );
    const erasure = await service.erase(scope, '48213', contexts, {
      trigger: 'isGDPRDeleted',
      requestedBy: 'raise',
      emails: [' Ada.Other@Example.org ', 'not-an-email'],
    });
    expect(asked).toEqual([
      { sourceId: '48213', emails: ['ada@example.org', 'ada.other@example.org'] },
    ]);
    expect(erasure).toMatchObject({
      status: 'completed',
      trigger: 'isGDPRDeleted',
      destinations: { marketing: 'archived', 'crm-plus': 'not_supported', warehouse: 'anonymised' },
    });
  });

  it('answers a completed erasure as it is, without asking anyone again', async () => {
    const fake = fakeRepository();
    let calls = 0;
    const service = new DonorErasureService(
      fake.repository,
      new AdapterRegistry([marketing(() => ((calls += 1), Promise.resolve('archived')))]),
      codec,
    );
    const first = await service.erase(scope, '48213', contexts, {
      trigger: 'admin',
      requestedBy: 'a',
    });
    const second = await service.erase(scope, '48213', contexts, {
      trigger: 'cli',
      requestedBy: 'b',
    });
    expect(second).toEqual(first);
    expect(calls).toBe(1);
    expect(fake.completed).toHaveLength(1);
  });

  it('leaves the erasure pending, nothing redacted, when a destination cannot be reached', async () => {
    const fake = fakeRepository();
    let down = true;
    const service = new DonorErasureService(
      fake.repository,
      new AdapterRegistry([
        marketing(() =>
          down
            ? Promise.reject(new DestinationUnavailableError('marketing answered 503'))
            : Promise.resolve('archived'),
        ),
      ]),
      codec,
    );
    await expect(
      service.erase(scope, '48213', contexts, { trigger: 'admin', requestedBy: 'a' }),
    ).rejects.toThrow(DestinationUnavailableError);
    expect(fake.row()?.status).toBe('pending');
    expect(fake.completed).toEqual([]);
    down = false;
    const again = await service.erase(scope, '48213', contexts, {
      trigger: 'admin',
      requestedBy: 'a',
    });
    expect(again.status).toBe('completed');
  });
});
