import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';
import { subscriberHash } from './marketing-api';
import type { MarketingMember } from './types';

interface MailchimpProblem {
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

describe('marketing simulator', () => {
  let sim: Simulator;
  let members: string;
  const token = 'mc-token';
  const email = 'Ada@Example.org';
  const hash = subscriberHash(email);

  const put = <T>(body: Record<string, unknown>, at = hash) =>
    call<T>(`${members}/${at}`, { token, method: 'PUT', body });

  beforeAll(async () => {
    sim = await startSimulator();
    members = `${sim.marketingUrl}/lists/news/members`;
  });

  beforeEach(() => {
    sim.destinations.createAccount({ kind: 'marketing', id: 'mc', token, listId: 'news' });
  });

  afterEach(() => {
    sim.destinations.removeAccount('mc');
  });

  afterAll(() => sim.stop());

  it('computes the subscriber hash as md5 of the lower-cased email', () => {
    expect(subscriberHash('Urist.McVankab@freddiesjokes.com')).toBe(
      '62eeb292278cc15f5817cb78f7790b08',
    );
  });

  it('answers 401 without a valid bearer token and 404 for another list', async () => {
    const denied = await call<MailchimpProblem>(`${members}/${hash}`, { token: 'nope' });
    expect(denied.status).toBe(401);
    expect(denied.body.title).toBe('API Key Invalid');
    const otherList = await call(`${sim.marketingUrl}/lists/other/members/${hash}`, { token });
    expect(otherList.status).toBe(404);
  });

  it('adds then updates a member with PUT, keeping its status unless given', async () => {
    const added = await put<MarketingMember>({
      email_address: email,
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'L' },
      tags: ['donor'],
    });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({
      id: hash,
      email_address: email,
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'L' },
      tags: ['donor'],
    });
    const updated = await put<MarketingMember>({
      email_address: email,
      status_if_new: 'unsubscribed',
      merge_fields: { LNAME: 'Lovelace' },
    });
    expect(updated.body).toMatchObject({
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
      tags: ['donor'],
    });
    const fetched = await call<MarketingMember>(`${members}/${hash}`, { token });
    expect(fetched.body).toEqual(updated.body);
    expect(sim.destinations.members('mc')).toHaveLength(1);
  });

  it('answers 400 when the hash does not match the email and 422 for an invalid email', async () => {
    const mismatch = await put<MailchimpProblem>(
      { email_address: 'other@example.org', status_if_new: 'subscribed' },
      hash,
    );
    expect(mismatch.status).toBe(400);
    const invalid = await put<MailchimpProblem>(
      { email_address: 'not-an-email', status_if_new: 'subscribed' },
      subscriberHash('not-an-email'),
    );
    expect(invalid.status).toBe(422);
    expect(invalid.body.title).toBe('Invalid Resource');
    expect(invalid.body.errors!.map((e) => e.field)).toEqual(['email_address']);
    expect(sim.destinations.members('mc')).toEqual([]);
  });

  it('archives a member (204) and brings it back with a later PUT', async () => {
    expect(
      (await call(`${members}/${hash}/actions/archive`, { token, method: 'POST' })).status,
    ).toBe(404);
    await put({ email_address: email, status_if_new: 'subscribed' });
    const archived = await call(`${members}/${hash}/actions/archive`, { token, method: 'POST' });
    expect(archived.status).toBe(204);
    const fetched = await call<MarketingMember>(`${members}/${hash}`, { token });
    expect(fetched.body.status).toBe('archived');
    const back = await put<MarketingMember>({
      email_address: email,
      status_if_new: 'transactional',
    });
    expect(back.body.status).toBe('transactional');
    expect((await call(`${members}/${hash}`, { token, method: 'DELETE' })).status).toBe(405);
  });

  it('rejects one email with statusFor and every request with status', async () => {
    sim.destinations.setDestinationFaults('mc', { statusFor: { 'ada@example.org': 422 } });
    const rejected = await put<MailchimpProblem>({
      email_address: email,
      status_if_new: 'subscribed',
    });
    expect(rejected.status).toBe(422);
    expect(rejected.body.errors![0]!.field).toBe('email_address');
    const other = 'bob@example.org';
    expect(
      (await put({ email_address: other, status_if_new: 'subscribed' }, subscriberHash(other)))
        .status,
    ).toBe(200);
    sim.destinations.setDestinationFaults('mc', { status: 500 });
    const failed = await call<MailchimpProblem>(`${members}/${subscriberHash(other)}`, { token });
    expect(failed.status).toBe(500);
    expect(failed.body.title).toBe('Internal Server Error');
  });

  it('limits requests with a token bucket (429 + Retry-After)', async () => {
    sim.destinations.setDestinationFaults('mc', {
      rateLimit: { requestsPerSecond: 0.5, burst: 2 },
    });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const response = await call(`${sim.marketingUrl}/ping`, { token });
      statuses.push(response.status);
      retryAfter = response.headers.get('retry-after');
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(retryAfter).toBe('2');
  });
});
