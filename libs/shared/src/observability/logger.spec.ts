import pino from 'pino';
import { Writable } from 'node:stream';
import { loggerOptions } from './logger';

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
