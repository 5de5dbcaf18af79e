import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminApi, cliFlag, cliOption } from './admin-cli';

describe('operator CLI helpers', () => {
  it('reads options and flags, not taking the next option as a value', () => {
    const argv = ['node', 'x.js', 'run', '--customer', 'c1', '--wait', '--kind'];
    expect(cliOption('customer', argv)).toBe('c1');
    expect(cliOption('wait', argv)).toBeUndefined();
    expect(cliOption('kind', argv)).toBeUndefined();
    expect(cliFlag('wait', argv)).toBe(true);
    expect(cliFlag('watch', argv)).toBe(false);
  });

  describe('adminApi', () => {
    let server: Server;
    const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
          res.statusCode = req.url === '/missing' ? 404 : 200;
          res.end(req.url === '/missing' ? 'no such thing' : JSON.stringify({ ok: true }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      process.env['TEST_ADMIN_URL'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      process.env['ADMIN_TOKEN'] = 'token-for-the-cli-test-123';
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('sends the bearer token and JSON body, returns the parsed answer', async () => {
      const call = adminApi('TEST_ADMIN_URL', 'http://unused');
      await expect(call('POST', '/things', { a: 1 })).resolves.toEqual({ ok: true });
      expect(seen.at(-1)).toEqual({
        method: 'POST',
        url: '/things',
        auth: 'Bearer token-for-the-cli-test-123',
        body: '{"a":1}',
      });
    });

    it('throws with the status and body on an error answer', async () => {
      const call = adminApi('TEST_ADMIN_URL', 'http://unused');
      await expect(call('GET', '/missing')).rejects.toThrow(
        'GET /missing answered 404: no such thing',
      );
    });
  });
});
