import { randomBytes } from 'node:crypto';
import { freePort, runAppToExit, startApp, type AppName, type RunningApp } from './app-process';
import { stackEnv } from './stack-env';
import { useTestStack } from './test-stack';

/**
 * The contract every service keeps, as e2e tests against the built app and the real stack:
 * it starts, answers /health/live, /health/ready and /metrics, exits 0 on SIGTERM after a
 * graceful shutdown, and refuses to start on invalid config with a message naming the variables.
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
