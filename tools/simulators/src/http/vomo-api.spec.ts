import { VOMO_PAGE_SIZE, type VomoPage, type VomoUserResource } from '@raise-sync/sources';
import { call } from '../../test/helpers';
import { startSimulator } from '../simulator';
import type { Simulator } from '../types';

type UserPage = VomoPage<VomoUserResource>;

const order = (a: VomoUserResource, b: VomoUserResource) =>
  a.updated_at.localeCompare(b.updated_at) || Number(a.id) - Number(b.id);

describe('VOMO users API over HTTP', () => {
  let sim: Simulator;
  const token = 'vomo-token';

  beforeAll(async () => {
    sim = await startSimulator({ seed: 4 });
    sim.control.createOrg({
      id: 'helpers',
      raiseToken: 'helpers-raise',
      vomoToken: token,
      donors: 40,
      gifts: 10,
      users: 100,
    });
  });

  afterAll(() => sim.stop());

  afterEach(() => sim.control.resetFaults());

  it('pages through every user in updated_at, id order by following links.next', async () => {
    const seen: VomoUserResource[] = [];
    let next: string | null = `${sim.vomoUrl}/users`;
    let pages = 0;
    while (next) {
      const response: { status: number; body: UserPage } = await call<UserPage>(next, { token });
      expect(response.status).toBe(200);
      expect(response.body.meta.per_page).toBe(VOMO_PAGE_SIZE);
      seen.push(...response.body.data);
      next = response.body.links.next;
      pages++;
    }
    expect(pages).toBe(Math.ceil(100 / VOMO_PAGE_SIZE));
    const expected = sim.control.records('helpers', 'user').sort(order);
    expect(seen).toEqual(expected);
    // Second precision: some users share an updated_at second.
    expect(new Set(seen.map((u) => u.updated_at)).size).toBeLessThan(seen.length);
  });

  it('builds an absolute Laravel envelope that keeps the filters in its links', async () => {
    const after = '2000-01-01T00:00:00+00:00';
    const url = `${sim.vomoUrl}/users?updated_after=${encodeURIComponent(after)}&page=2`;
    const { body } = await call<UserPage>(url, { token });
    expect(body.meta).toMatchObject({
      current_page: 2,
      from: VOMO_PAGE_SIZE + 1,
      to: 2 * VOMO_PAGE_SIZE,
      total: 100,
      last_page: 7,
      path: `${sim.vomoUrl}/users`,
    });
    const next = new URL(body.links.next!);
    expect(`${next.origin}${next.pathname}`).toBe(`${sim.vomoUrl}/users`);
    expect(next.searchParams.get('updated_after')).toBe(after);
    expect(next.searchParams.get('page')).toBe('3');
    expect(new URL(body.links.prev!).searchParams.get('page')).toBe('1');
    const last = await call<UserPage>(body.links.last!, { token });
    expect(last.body.links.next).toBeNull();
    expect(last.body.data).toHaveLength(100 - 6 * VOMO_PAGE_SIZE);
  });

  it('filters updated_after strictly, and by name and email substrings', async () => {
    const users = sim.control.records('helpers', 'user').sort(order);
    const pivot = users[50]!;
    const { body } = await call<UserPage>(
      `${sim.vomoUrl}/users?updated_after=${encodeURIComponent(pivot.updated_at)}`,
      { token },
    );
    expect(body.meta.total).toBe(users.filter((u) => u.updated_at > pivot.updated_at).length);
    expect(body.data.every((u) => u.updated_at > pivot.updated_at)).toBe(true);

    const fragment = pivot.email!.slice(0, 6).toUpperCase();
    const byEmail = await call<UserPage>(`${sim.vomoUrl}/users?email_like=${fragment}`, { token });
    expect(byEmail.body.data.map((u) => u.id)).toContain(pivot.id);
    expect(
      byEmail.body.data.every((u) => u.email!.toLowerCase().includes(fragment.toLowerCase())),
    ).toBe(true);

    const byName = await call<UserPage>(
      `${sim.vomoUrl}/users?name_like=${pivot.last_name!.toLowerCase()}`,
      {
        token,
      },
    );
    expect(byName.body.data.map((u) => u.id)).toContain(pivot.id);

    const bad = await call<{ message: string; errors: Record<string, string[]> }>(
      `${sim.vomoUrl}/users?created_after=yesterday`,
      { token },
    );
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toHaveProperty('created_after');
  });

  it('returns one user with its detail fields, or 404', async () => {
    const [user] = sim.control.records('helpers', 'user');
    const { status, body } = await call<{ data: VomoUserResource & { participations: unknown[] } }>(
      `${sim.vomoUrl}/users/${user!.id}`,
      { token },
    );
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ ...user, participations: [] });
    expect((await call(`${sim.vomoUrl}/users/1`, { token })).status).toBe(404);
  });

  it('upserts by email case-insensitively: 201 then 200, 422 on missing fields', async () => {
    const input = {
      first_name: 'Ines',
      last_name: 'Okafor',
      email: 'Ines.Okafor@Example.org',
      birthday: '1990-04-02',
      gender: 'F',
    };
    const created = await call<{ code: string; data: VomoUserResource }>(`${sim.vomoUrl}/users`, {
      token,
      body: input,
    });
    expect(created.status).toBe(201);
    expect(created.body.code).toBe('201');
    const updated = await call<{ code: string; message: string; data: VomoUserResource }>(
      `${sim.vomoUrl}/users`,
      { token, body: { ...input, email: 'ines.okafor@example.ORG', last_name: 'Okafor-Lee' } },
    );
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ code: '200', message: 'User updated.' });
    expect(updated.body.data).toMatchObject({ id: created.body.data.id, last_name: 'Okafor-Lee' });

    // An existing generated user is matched by its email too.
    const [existing] = sim.control.records('helpers', 'user');
    const again = await call(`${sim.vomoUrl}/users`, {
      token,
      body: { ...input, email: existing!.email!.toUpperCase() },
    });
    expect(again.status).toBe(200);

    const invalid = await call<{ message: string; errors: Record<string, string[]> }>(
      `${sim.vomoUrl}/users`,
      { token, body: { first_name: 'X' } },
    );
    expect(invalid.status).toBe(422);
    expect(Object.keys(invalid.body.errors).sort()).toEqual([
      'birthday',
      'email',
      'gender',
      'last_name',
    ]);
    expect(invalid.body.message).toContain('(and 3 more errors)');
  });

  it('applies the same faults: 401 and 429 with Retry-After', async () => {
    expect((await call(`${sim.vomoUrl}/users`)).status).toBe(401);
    expect((await call(`${sim.vomoUrl}/users`, { token: 'helpers-raise' })).status).toBe(401);
    sim.control.setFaults('helpers', { rateLimit: { requestsPerSecond: 1, burst: 1 } });
    expect((await call(`${sim.vomoUrl}/users`, { token })).status).toBe(200);
    const limited = await call<{ message: string }>(`${sim.vomoUrl}/users`, { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body.message).toBe('Too Many Attempts.');
  });

  it('bumps updated_at on updateUser so pollers see the change', async () => {
    const users = sim.control.records('helpers', 'user').sort(order);
    const oldest = users[0]!;
    const changed = sim.control.updateUser('helpers', Number(oldest.id), {
      phone: '(555) 010-0000',
    });
    expect(changed.updated_at > oldest.updated_at).toBe(true);
    // Generated users are all older than the anchor; the change is newer.
    const anchor = sim.control.listOrgs()[0]!.anchor;
    const { body } = await call<UserPage>(
      `${sim.vomoUrl}/users?updated_after=${encodeURIComponent(anchor)}`,
      { token },
    );
    expect(body.data.map((u) => u.id)).toContain(oldest.id);
    expect(body.data.find((u) => u.id === oldest.id)?.phone).toBe('(555) 010-0000');
  });
});
