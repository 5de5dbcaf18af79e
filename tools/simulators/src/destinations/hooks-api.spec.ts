import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import { HOOK_SIGNATURE_HEADER, HOOK_TIMESTAMP_HEADER, signHook } from './hooks-api';

describe('webhook receiver simulator', () => {
  let sim: Simulator;
  let endpoint: string;
  const secret = 'shh';

  /** Posts a signed body; `sign` overrides the secret used for the signature. */
  const deliver = (body: unknown, key?: string, sign = secret) => {
    const raw = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    return call<{ received?: boolean; duplicate?: boolean; error?: string }>(endpoint, {
      raw,
      headers: {
        [HOOK_TIMESTAMP_HEADER]: timestamp,
        [HOOK_SIGNATURE_HEADER]: signHook(sign, timestamp, raw),
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
    });
  };

  beforeAll(async () => {
    sim = await startSimulator();
  });

  beforeEach(() => {
    const account = sim.destinations.createAccount({ kind: 'webhook', id: 'partner', secret });
    endpoint = account.url;
  });

  afterEach(() => {
    sim.destinations.removeAccount('partner');
  });

  afterAll(() => sim.stop());

  it('lives at hooksUrl/<account id>', () => {
    expect(endpoint).toBe(`${sim.hooksUrl}/partner`);
  });

  it('stores a correctly signed delivery and refuses a wrong or missing signature', async () => {
    const ok = await deliver({ recordId: 'gift:1', amount: 5 }, 'evt-1');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ received: true, duplicate: false });
    const forged = await deliver({ recordId: 'gift:2' }, 'evt-2', 'wrong');
    expect(forged.status).toBe(401);
    const unsigned = await call(endpoint, { body: { recordId: 'gift:3' } });
    expect(unsigned.status).toBe(401);
    expect(sim.destinations.hookDeliveries('partner')).toEqual([
      expect.objectContaining({
        seq: 1,
        idempotencyKey: 'evt-1',
        recordId: 'gift:1',
        body: { recordId: 'gift:1', amount: 5 },
      }),
    ]);
    expect((await call(`${sim.hooksUrl}/nobody`, { body: {} })).status).toBe(404);
  });

  it('dedupes by Idempotency-Key: a repeat answers 200 and is counted, not stored', async () => {
    await deliver({ recordId: 'gift:1' }, 'evt-1');
    const again = await deliver({ recordId: 'gift:1' }, 'evt-1');
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);
    await deliver({ recordId: 'gift:1', v: 2 }, 'evt-2');
    expect(sim.destinations.hookDeliveries('partner').map((d) => d.idempotencyKey)).toEqual([
      'evt-1',
      'evt-2',
    ]);
    expect(sim.destinations.hookDuplicates('partner').map((d) => d.idempotencyKey)).toEqual([
      'evt-1',
    ]);
  });

  it('fails one record with statusFor and everything with status', async () => {
    sim.destinations.setDestinationFaults('partner', { statusFor: { 'gift:bad': 422 } });
    const rejected = await deliver({ recordId: 'gift:bad' }, 'evt-1');
    expect(rejected.status).toBe(422);
    expect(rejected.body.error).toContain('gift:bad');
    expect((await deliver({ recordId: 'gift:good' }, 'evt-2')).status).toBe(200);
    sim.destinations.setDestinationFaults('partner', { status: 503 });
    const down = await deliver({ recordId: 'gift:good' }, 'evt-3');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    sim.destinations.clearDestinationFaults('partner');
    expect((await deliver({ recordId: 'gift:bad' }, 'evt-1')).status).toBe(200);
    expect(sim.destinations.hookDeliveries('partner').map((d) => d.recordId)).toEqual([
      'gift:good',
      'gift:bad',
    ]);
  });
});
