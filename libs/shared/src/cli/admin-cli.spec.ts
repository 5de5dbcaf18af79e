import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configSection, ConfigError, httpUrl, integer } from '../config';
import { adminApi, cliFlag, cliOption, loadCliConfig } from './admin-cli';

describe('operator CLI helpers', () => {
  it('reads options and flags, not taking the next option as a value', () => {
    const argv = ['node', 'x.js', 'run', '--customer', 'c1', '--wait', '--kind'];
    expect(cliOption('customer', argv)).toBe('c1');
    expect(cliOption('wait', argv)).toBeUndefined();
    expect(cliOption('kind', argv)).toBeUndefined();
    expect(cliFlag('wait', argv)).toBe(true);
    expect(cliFlag('watch', argv)).toBe(false);
  });

  describe('loadCliConfig', () => {
    const section = configSection({
      owner: 'a test CLI',
      variables: {
        TEST_CLI_URL: httpUrl({ default: 'http://127.0.0.1:1', description: 'admin API' }),
        TEST_CLI_REFRESH_MS: integer({ default: 1000, min: 200, max: 60_000, description: 'x' }),
      },
      build: (v) => ({ url: v.TEST_CLI_URL, refreshMs: v.TEST_CLI_REFRESH_MS }),
    });
    const token = 'token-for-the-cli-test-123';

    it('reads the section and ADMIN_TOKEN, with the defaults for what is unset', () => {
      expect(loadCliConfig({ ADMIN_TOKEN: token }, section)).toEqual({
        url: 'http://127.0.0.1:1',
        refreshMs: 1000,
        token,
      });
      expect(
        loadCliConfig(
          { ADMIN_TOKEN: token, TEST_CLI_URL: 'http://svc:3004/', TEST_CLI_REFRESH_MS: '250' },
          section,
        ),
      ).toEqual({ url: 'http://svc:3004', refreshMs: 250, token });
    });

    it('names every bad or missing variable in one error, never a value', () => {
      let thrown: unknown;
      try {
        loadCliConfig({ TEST_CLI_URL: 'ftp://nope', TEST_CLI_REFRESH_MS: '5secret' }, section);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).problems).toEqual([
        'TEST_CLI_URL must be an http(s) URL',
        'TEST_CLI_REFRESH_MS must be an integer from 200 to 60000',
        'ADMIN_TOKEN is required (at least 24 characters without spaces)',
      ]);
      expect((thrown as ConfigError).message).not.toMatch(/ftp|5secret/);
    });
  });

  describe('adminApi', () => {
    let server: Server;
    const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
    const token = 'token-for-the-cli-test-123';
    let url = '';
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
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('sends the bearer token and JSON body, returns the parsed answer', async () => {
      const call = adminApi({ url, token });
      await expect(call('POST', '/things', { a: 1 })).resolves.toEqual({ ok: true });
      expect(seen.at(-1)).toEqual({
        method: 'POST',
        url: '/things',
        auth: 'Bearer token-for-the-cli-test-123',
        body: '{"a":1}',
      });
    });

    it('throws with the status and body on an error answer', async () => {
      const call = adminApi({ url, token });
      await expect(call('GET', '/missing')).rejects.toThrow(
        'GET /missing answered 404: no such thing',
      );
    });
  });
});
