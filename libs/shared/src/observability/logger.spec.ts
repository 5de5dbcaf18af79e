import pino from 'pino';
import { Writable } from 'node:stream';
import type { Options } from 'pino-http';
import { loggerOptions, nestLoggerParams } from './logger';

function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, sink };
}

describe(loggerOptions.name, () => {
  it('never writes a secret into a log line', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino(loggerOptions('ingest', 'info', '1.0.0'), sink);
    log.info(
      { customerId: 'c1', credentials: { raise: { apiToken: 'tok_live_SECRET1' } } },
      'stored credentials',
    );
    log.info(
      { customer: { token: 'tok_live_SECRET2', webhookSecret: 'whsec_SECRET3' } },
      'onboarded',
    );
    log.info({ req: { headers: { authorization: 'Bearer SECRET4' } } }, 'request');

    const output = lines.join('');
    expect(lines).toHaveLength(3);
    expect(output).not.toMatch(/SECRET\d/);
    expect(JSON.parse(lines[0] ?? '{}')).toEqual(
      expect.objectContaining({
        service: 'ingest',
        customerId: 'c1',
        level: 'info',
        msg: 'stored credentials',
      }),
    );
  });
});

describe('URLs in log lines', () => {
  it('logs request URLs with their query values redacted, and skips health checks by path', () => {
    const options = nestLoggerParams('ingest', 'info', '1.0.0').pinoHttp as Options;
    const serialize = options.serializers?.['req'] as (req: object) => unknown;
    expect(serialize({ method: 'GET', url: '/admin/customers?token=s3cret&x' })).toEqual({
      method: 'GET',
      url: '/admin/customers?token=[redacted]&[redacted]',
    });
    const autoLogging = options.autoLogging as { ignore: (req: { url?: string }) => boolean };
    expect(autoLogging.ignore({ url: '/metrics?token=s3cret' })).toBe(true);
    expect(autoLogging.ignore({ url: '/health/live?token=s3cret' })).toBe(true);
    expect(autoLogging.ignore({ url: '/admin/customers?token=s3cret' })).toBe(false);
  });

  it('redacts URLs in logged errors: message, stack, causes and the input of an invalid URL', () => {
    const { lines, sink } = capture();
    const log = pino(loggerOptions('submitter', 'info', '1.0.0'), sink);
    const fetchError = new TypeError(
      'Failed to parse URL from https://hooks.partner.example/in?api_key=s3cret1',
    );
    log.warn(
      { err: new Error('webhook destination failed', { cause: fetchError }) },
      'delivery failed',
    );
    let invalid: unknown;
    try {
      new URL('https://user:s3cret2@[bad host]/x?token=s3cret3');
    } catch (error) {
      invalid = error;
    }
    log.warn({ err: invalid }, 'bad url');
    log.warn({ err: 'POST https://h.example/x?token=s3cret4 failed' }, 'as a string');

    const output = lines.join('');
    expect(lines).toHaveLength(3);
    expect(output).not.toMatch(/s3cret\d/);
    const first = JSON.parse(lines[0] ?? '{}') as { err: { message: string; stack: string } };
    expect(first.err.message).toContain(
      'Failed to parse URL from https://hooks.partner.example/in?api_key=[redacted]',
    );
    expect(first.err.stack).toContain('webhook destination failed');
    expect(JSON.parse(lines[2] ?? '{}')).toEqual(
      expect.objectContaining({ err: 'POST https://h.example/x?token=[redacted] failed' }),
    );
  });
});
