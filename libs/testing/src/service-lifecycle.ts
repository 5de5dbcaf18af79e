import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, runAppToExit, startApp, type AppName, type RunningApp } from './app-process';
import { expectEventually } from './expect-eventually';
import { stackEnv } from './stack-env';
import { useTestStack } from './test-stack';

/**
 * The contract every service keeps, as e2e tests against the built app and the real stack:
 * it starts, answers /health/live, /health/ready and /metrics, logs request URLs without query
 * values, keeps caller-chosen values out of metric labels, exits 0 on SIGTERM after a graceful
 * shutdown, refuses to start on invalid config with a message naming the variables, and stops
 * within seconds, naming the variable, when PostgreSQL, Kafka or the registry is unreachable.
 */
export function describeServiceLifecycle(app: AppName): void {
  describe(`${app} as a process`, () => {
    const stack = useTestStack();
    let running: RunningApp;
    const env = (): Record<string, string> => ({
      ...stackEnv(stack, `${stack.prefix}-${app}`),
      SECRETS_KEY: randomBytes(32).toString('hex'),
    });

    beforeAll(async () => {
      running = startApp(app, env(), await freePort());
      await running.waitUntilReady();
    });

    afterAll(async () => {
      await running.stop('SIGKILL');
    });

    it('answers its health endpoints with every dependency up', async () => {
      const live = await fetch(`${running.url}/health/live`);
      expect(live.status).toBe(200);
      const ready = (await (await fetch(`${running.url}/health/ready`)).json()) as {
        status: string;
        info: Record<string, unknown>;
      };
      expect(ready.status).toBe('ok');
      expect(Object.keys(ready.info)).toEqual(
        expect.arrayContaining(['kafka', 'schema-registry', 'database']),
      );
    });

    it('exports Prometheus metrics from its own registry', async () => {
      const response = await fetch(`${running.url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toContain(`raise_sync_service_info{service="${app}",version="0.1.0"} 1`);
      expect(text).toMatch(/raise_sync_process_resident_memory_bytes\{service="[a-z]+"\} \d+/);
    });

    it('publishes its admin API description (OpenAPI, bearer auth) at /admin/docs', async () => {
      const response = await fetch(`${running.url}/admin/docs/openapi.json`);
      expect(response.status).toBe(200);
      const doc = (await response.json()) as {
        info: { title: string };
        paths: Record<string, unknown>;
        components: { securitySchemes?: Record<string, unknown> };
      };
      expect(doc.info.title).toContain('admin API');
      expect(Object.keys(doc.paths).some((path) => path.startsWith('/admin/'))).toBe(true);
      expect(Object.keys(doc.components.securitySchemes ?? {})).toContain('bearer');
    });

    it('logs structured JSON with its service name', () => {
      expect(running.logs()).toContainEqual(
        expect.objectContaining({ service: app, level: 'info', msg: 'service started' }),
      );
      expect(running.logs().filter((l) => 'raw' in l)).toEqual([]);
    });

    it('logs request URLs without their query values (a token in a URL never reaches the log)', async () => {
      const secret = `s3cret-${randomUUID()}`;
      await fetch(`${running.url}/health/live?token=${secret}`);
      await fetch(`${running.url}/metrics?token=${secret}`);
      // An unknown route answers 404, which is logged (at warn) with its URL.
      expect((await fetch(`${running.url}/no-such-route?token=${secret}&${secret}`)).status).toBe(
        404,
      );
      await expectEventually(() =>
        expect(running.logs()).toContainEqual(
          expect.objectContaining({
            req: { method: 'GET', url: '/no-such-route?token=[redacted]&[redacted]' },
            res: { statusCode: 404 },
          }),
        ),
      );
      expect(JSON.stringify(running.logs())).not.toContain(secret);
    });

    it('keeps caller-chosen paths, parameters and queries out of its metric labels', async () => {
      const marker = `mark${randomUUID().replace(/-/g, '')}`;
      const doc = (await (await fetch(`${running.url}/admin/docs/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      // Every documented route (webhook intake has its own tests), unauthenticated, with the
      // marker in each path parameter, the query and a header; plus unknown routes.
      const requests = Object.entries(doc.paths)
        .filter(([template]) => !template.startsWith('/webhooks'))
        .flatMap(([template, operations]) =>
          Object.keys(operations).map((method) => ({
            method: method.toUpperCase(),
            path: template.replace(/\{\w+\}/g, marker),
          })),
        );
      requests.push(
        { method: 'GET', path: `/${marker}` },
        { method: 'GET', path: `/console/api/customers/${marker}/health` },
        { method: 'GET', path: `/health/${marker}` },
      );
      for (const { method, path } of requests) {
        await fetch(`${running.url}${path}?${marker}=${marker}`, {
          method,
          headers: { 'x-marker': marker, authorization: `Bearer ${marker}` },
          body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
        });
      }
      const metrics = await (await fetch(`${running.url}/metrics`)).text();
      expect(metrics).toContain('raise_sync_service_info');
      expect(metrics).not.toContain(marker);
    });

    it('shuts down gracefully on SIGTERM and exits 0', async () => {
      expect(await running.stop('SIGTERM')).toBe(0);
      const messages = running.logs().map((l) => l['msg']);
      expect(messages).toEqual(
        expect.arrayContaining([
          'shutdown started',
          'disconnected from Kafka',
          'shutdown complete',
        ]),
      );
    });

    // Each dependency unreachable in turn (a closed port): exit 1 within seconds, with one JSON
    // line naming the variable and the address (no password), and no stack trace anywhere.
    it('stops within seconds, naming the variable, when a dependency is unreachable at start', async () => {
      const closed = await freePort();
      const password = `pw-${randomUUID()}`;
      const cases = [
        {
          variable: 'DATABASE_URL',
          value: `postgres://raise:${password}@127.0.0.1:${closed}/state`,
          address: `postgres://raise:[redacted]@127.0.0.1:${closed}/state`,
        },
        { variable: 'KAFKA_BROKERS', value: `127.0.0.1:${closed}`, address: `127.0.0.1:${closed}` },
        {
          variable: 'SCHEMA_REGISTRY_URL',
          value: `http://127.0.0.1:${closed}/apis/ccompat/v7`,
          address: `http://127.0.0.1:${closed}/apis/ccompat/v7`,
        },
      ];
      const runs = await Promise.all(
        cases.map((c) =>
          runAppToExit(
            app,
            { ...env(), HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', [c.variable]: c.value },
            30_000,
          ),
        ),
      );
      cases.forEach((c, i) => {
        const { code, output, elapsedMs } = runs[i] ?? { code: null, output: '', elapsedMs: 0 };
        const lines = output
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => {
            try {
              return JSON.parse(line) as Record<string, unknown>;
            } catch {
              return { raw: line };
            }
          });
        expect({ variable: c.variable, code, fast: elapsedMs < 15_000 }).toEqual({
          variable: c.variable,
          code: 1,
          fast: true,
        });
        expect(lines.filter((l) => 'raw' in l)).toEqual([]);
        expect(lines).toContainEqual(
          expect.objectContaining({
            level: 'fatal',
            msg: 'service failed to start',
            variable: c.variable,
            address: c.address,
            error: expect.stringContaining(`${c.variable}: ${c.address} is unreachable`) as string,
          }),
        );
        expect(lines).toContainEqual(
          expect.objectContaining({
            level: 'warn',
            msg: expect.stringMatching(/^waiting for /) as string,
          }),
        );
        expect(output).not.toMatch(/\s+at \S+ \(/); // no stack frame, raw or JSON-escaped
        expect(output).not.toContain('"stack"');
        expect(output).not.toContain(password);
      });
    });

    it('refuses to start on invalid config, naming every bad variable and no value', async () => {
      const { code, output } = await runAppToExit(app, {
        ...env(),
        KAFKA_BROKERS: '',
        SECRETS_KEY: 'zz-secret-looking',
      });
      expect(code).toBe(1);
      expect(output).toMatch(/KAFKA_BROKERS is required/);
      expect(output).toMatch(/SECRETS_KEY must be 64 hexadecimal/);
      expect(output).not.toContain('zz-secret-looking');
    });
  });
}
