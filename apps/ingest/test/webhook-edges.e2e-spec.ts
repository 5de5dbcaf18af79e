import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { SecretBox } from '@raise-sync/shared/crypto';
import { RAISE_WEBHOOK_HEADERS, signRaiseWebhook } from '@raise-sync/sources';
import { CustomerRepository, customerScope } from '@raise-sync/shared/state';
import { expectEventually, scrapeMetric, useTestStack } from '@raise-sync/testing';
import { startSimulator, type Simulator } from '@raise-sync/simulators';
import {
  onboard,
  readEvents,
  SECRETS_KEY,
  startIngest,
  topicMessageCount,
  topics,
  type IngestUnderTest,
  type OnboardedCustomer,
  setWebhookSecret,
} from './support';

const MAX_BODY = 65_536;
const BUDGET = 2 * MAX_BODY;
const BODY_TIMEOUT_MS = 3000;

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the answer's headers arrived, from the start of the request. */
  afterMs: number;
}

/** One POST over its own connection, the body written (or not) by the test. */
interface RawPost {
  /** Resolves once the chunk was handed to the connection. */
  write(chunk: string | Buffer): Promise<void>;
  end(chunk?: string | Buffer): void;
  destroy(): void;
  answer: Promise<RawAnswer>;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
}

/**
 * The Edge-case battery of the webhook receivers, through the built ingest app on the real
 * broker: metric labels an unauthenticated caller cannot grow, checks before the body is read,
 * the budget of unverified bytes, the body timeout, strict signatures keyed on what was signed,
 * one record-ID rule for deletes, and disconnecting clients.
 */
describe('ingest: the webhook edge under hostile input (real Kafka, registry, PostgreSQL)', () => {
  const stack = useTestStack();
  let sim: Simulator;
  let ingest: IngestUnderTest;
  let customer: OnboardedCustomer;
  const secret = `whsec_${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 41 });
    ingest = await startIngest(stack, sim, {
      WEBHOOK_MAX_BODY_BYTES: String(MAX_BODY),
      WEBHOOK_UNVERIFIED_BYTES_MAX: String(BUDGET),
      WEBHOOK_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    });
    customer = await onboard(ingest, sim, `edges-${stack.prefix}`, { webhooks: false });
    await setWebhookSecret(ingest, customer.id, secret);
  });

  afterAll(async () => {
    await ingest?.app.stop('SIGTERM');
    await sim?.stop();
  });

  const raisePath = (id = customer.id): string => `/webhooks/raise/${id}`;
  const now = (): number => Math.floor(Date.now() / 1000);
  const signedHeaders = (body: string, ts = now()): Record<string, string> => ({
    [RAISE_WEBHOOK_HEADERS.timestamp]: String(ts),
    [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook(secret, ts, body),
  });

  function open(path: string, headers: OutgoingHttpHeaders): RawPost {
    const started = Date.now();
    const req = httpRequest({
      host: '127.0.0.1',
      port: ingest.app.port,
      path,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', ...headers },
    });
    req.on('error', () => undefined); // the server may close while we still write
    const answer = new Promise<RawAnswer>((resolve, reject) => {
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        const done = (): void =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            afterMs,
          });
        const afterMs = Date.now() - started;
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', done);
        res.once('error', done);
        res.once('close', done);
      });
      req.once('close', () => reject(new Error('closed without an answer')));
    });
    answer.catch(() => undefined);
    const closed = new Promise<void>((resolve) => {
      req.once('socket', (socket) => socket.once('close', () => resolve()));
    });
    req.flushHeaders();
    return {
      write: (chunk) =>
        new Promise<void>((resolve) => {
          req.write(chunk, () => resolve());
        }),
      end: (chunk) => void req.end(chunk),
      destroy: () => void req.destroy(),
      answer,
      closed,
    };
  }

  /** A complete POST: headers and body at once. */
  const post = (path: string, body: string, headers: OutgoingHttpHeaders): Promise<RawAnswer> => {
    const sent = open(path, { 'content-length': String(Buffer.byteLength(body)), ...headers });
    sent.end(body);
    return sent.answer;
  };

  const errorOf = (answer: RawAnswer): string =>
    (JSON.parse(answer.body) as { error: string }).error;

  const giftBody = (id: number, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      eventType: 10,
      eventTypeDisplay: 'Gift Created',
      contextId: id,
      data: {
        id,
        donorId: 1,
        amount: 10,
        currency: 'USD',
        date: '2026-11-20T10:00:00',
        statusText: 'Success',
        createdDate: '2026-11-20T10:00:00.000Z',
        modifiedDate: '2026-11-20T10:00:01.000Z',
        ...extra,
      },
    });

  const metricsText = async (): Promise<string> =>
    (await fetch(`${ingest.app.url}/metrics`)).text();
  const webhookSeries = (text: string): string[] =>
    text.split('\n').filter((line) => line.startsWith('raise_sync_webhook'));
  const rejected = (reason: string, customerId = customer.id): Promise<number> =>
    scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
      customer_id: customerId,
      outcome: 'rejected',
      reason,
    });

  const giftTopic = (): string => topics(ingest.topicPrefix).sourceEvents('raise', 'gift');
  /** Events of this file's customer on the gift topic with this record ID. */
  async function landed(recordId: string): Promise<number> {
    const topic = giftTopic();
    const events = await readEvents(stack, topic, await topicMessageCount(stack, topic));
    return events.filter((e) => e.event.customerId === customer.id && e.event.recordId === recordId)
      .length;
  }

  async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
    const queue = [...items];
    await Promise.all(
      Array.from({ length: limit }, async () => {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          await fn(item);
        }
      }),
    );
  }

  it('labels no metric with a source or customer the caller made up (Raise and CRM+ routes)', async () => {
    const body = giftBody(1);
    // One of each first, so the 'unknown' series exist before counting.
    await post(`/webhooks/warmup/${randomUUID()}`, body, {});
    await post(raisePath(randomUUID()), body, {});
    await post(`/webhooks/${randomUUID()}/crm-plus`, body, {});
    const before = webhookSeries(await metricsText()).length;

    const made: string[] = [];
    for (let i = 0; i < 150; i += 1) {
      made.push(`/webhooks/src-${randomBytes(6).toString('hex')}/${randomUUID()}`);
    }
    for (let i = 0; i < 40; i += 1) {
      const id = i % 2 === 0 ? randomUUID() : `not-a-uuid-${randomBytes(4).toString('hex')}`;
      made.push(raisePath(id), `/webhooks/${id}/crm-plus`);
    }
    const statuses = new Set<number>();
    await mapLimit(made, 16, async (path) => {
      statuses.add((await post(path, body, signedHeaders(body))).status);
    });
    expect([...statuses]).toEqual([404]);

    const text = await metricsText();
    expect(webhookSeries(text).length).toBe(before);
    const labelValues = [...text.matchAll(/="([^"]*)"/g)].map((m) => m[1]);
    expect(labelValues.filter((v) => v?.startsWith('src-') || v?.startsWith('not-a-uuid'))).toEqual(
      [],
    );
    expect(
      await scrapeMetric(ingest.app.url, 'raise_sync_webhooks_total', {
        customer_id: 'unknown',
        source: 'unknown',
        reason: 'unknown_source',
      }),
    ).toBe(151);
  });

  it('refuses concurrent large unsigned bodies from their headers, without reading them', async () => {
    // 40 connections each announce a body of MAX_BODY bytes and never send it: the answers
    // can only come from the headers, and each closes its connection.
    const unsigned = Array.from({ length: 30 }, () =>
      open(raisePath(), { 'content-length': String(MAX_BODY) }),
    );
    const strangers = Array.from({ length: 10 }, () =>
      open(raisePath(randomUUID()), {
        'content-length': String(MAX_BODY),
        ...signedHeaders('{}'),
      }),
    );
    const answers = await Promise.all([...unsigned, ...strangers].map((p) => p.answer));
    expect(answers.map((a) => `${a.status} ${errorOf(a)}`)).toEqual([
      ...Array<string>(30).fill('401 missing_signature'),
      ...Array<string>(10).fill('404 unknown_customer'),
    ]);
    expect(answers.every((a) => a.headers.connection === 'close')).toBe(true);
    await Promise.all([...unsigned, ...strangers].map((p) => p.closed));

    // Over the size limit by declaration alone: 413 before reading, and still no budget used.
    const huge = open(raisePath(), {
      'content-length': String(50 * 1024 * 1024),
      ...signedHeaders('{}'),
    });
    const tooLarge = await huge.answer;
    expect([tooLarge.status, errorOf(tooLarge)]).toEqual([413, 'too_large']);
    huge.destroy();
  });

  it('answers 503 busy with Retry-After while unverified bodies fill the budget, and 408 to bodies that trickle', async () => {
    // Two trickling deliveries with signed-looking headers hold the whole budget (2 × MAX_BODY).
    const holders = [0, 1].map(() => {
      const held = open(raisePath(), {
        'content-length': String(MAX_BODY),
        ...signedHeaders('{"never":"sent"}'),
      });
      void held.write('{');
      const trickle = setInterval(() => void held.write(' '), 250);
      void held.closed.then(() => clearInterval(trickle));
      return held;
    });

    // A probe signed with the wrong secret: 401 once it gets in, 503 while the budget is taken.
    let busy: RawAnswer | undefined;
    await expectEventually(
      async () => {
        const body = giftBody(2);
        const answer = await post(raisePath(), body, {
          ...signedHeaders(body),
          [RAISE_WEBHOOK_HEADERS.signature]: signRaiseWebhook('not-the-secret', now(), body),
        });
        expect(answer.status).toBe(503);
        busy = answer;
      },
      { timeoutMs: BODY_TIMEOUT_MS - 500, intervalMs: 20 },
    );
    expect(errorOf(busy!)).toBe('busy');
    expect(Number(busy!.headers['retry-after'])).toBeGreaterThan(0);

    // The tricklers are answered 408 at the body timeout, and their connections closed, though
    // they keep writing.
    const timedOut = await Promise.all(holders.map((h) => h.answer));
    for (const answer of timedOut) {
      expect([answer.status, errorOf(answer)]).toEqual([408, 'body_timeout']);
      expect(answer.afterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
      expect(answer.afterMs).toBeLessThan(BODY_TIMEOUT_MS + 5000);
    }
    await Promise.all(holders.map((h) => h.closed));
    expect(await rejected('body_timeout')).toBe(2);
    expect(await rejected('busy')).toBeGreaterThanOrEqual(1);

    // Nothing is held after the timeout: a full-size signed delivery fits the budget again.
    const body = giftBody(3, { pad: 'x'.repeat(MAX_BODY - 400) });
    const accepted = await post(raisePath(), body, signedHeaders(body));
    expect(accepted.status).toBe(202);
  });

  it('accepts one delivery once, whatever the spelling of its signature or repeated headers', async () => {
    // A timestamp whose signature has `+` or `/`, so base64url spells it differently.
    let ts = now();
    let body = giftBody(4);
    while (!/[+/]/.test(signRaiseWebhook(secret, ts, body))) {
      ts -= 1;
      body = giftBody(4, { statusText: `Success ${ts}` });
    }
    const signature = signRaiseWebhook(secret, ts, body);
    const send = (headers: OutgoingHttpHeaders): Promise<RawAnswer> =>
      post(raisePath(), body, { [RAISE_WEBHOOK_HEADERS.deliveryId]: randomUUID(), ...headers });
    const with_ = (sig: string | string[], stamp: string | string[] = String(ts)) => ({
      [RAISE_WEBHOOK_HEADERS.signature]: sig,
      [RAISE_WEBHOOK_HEADERS.timestamp]: stamp,
    });

    expect((await send(with_(signature))).status).toBe(202);
    const variants: Array<[string, OutgoingHttpHeaders, number, string]> = [
      ['the same bytes again', with_(signature), 409, 'replayed'],
      ['padding dropped', with_(signature.replace(/=$/, '')), 401, 'bad_signature'],
      ['four extra characters', with_(`${signature}AAAA`), 401, 'bad_signature'],
      [
        'a space inside',
        with_(`${signature.slice(0, 20)} ${signature.slice(20)}`),
        401,
        'bad_signature',
      ],
      ['base64url', with_(signature.replace(/\+/g, '-').replace(/\//g, '_')), 401, 'bad_signature'],
      ['the signature header twice', with_([signature, signature]), 400, 'duplicate_header'],
      [
        'the timestamp header twice',
        with_(signature, [String(ts), String(ts)]),
        400,
        'duplicate_header',
      ],
      ['the timestamp spelled differently', with_(signature, `${ts}.0`), 401, 'bad_signature'],
      ['a timestamp with a sign', with_(signature, `+${ts}`), 401, 'bad_signature'],
    ];
    for (const [name, headers, status, reason] of variants) {
      const answer = await send(headers);
      expect({ name, status: answer.status, reason: errorOf(answer) }).toEqual({
        name,
        status,
        reason,
      });
    }
    expect(await landed('4')).toBe(1);
  });

  it('refuses delete events whose ID is not a record ID, producing nothing', async () => {
    const deleteBody = (idJson: string): string =>
      `{"eventType":12,"eventTypeDisplay":"Gift Deleted","contextId":1,"data":{"id":${idJson},"modifiedDate":"2026-11-21T08:00:00Z"}}`;
    const topic = giftTopic();
    const before = await topicMessageCount(stack, topic);
    for (const idJson of ['9007199254740993', '""', '-5', '1.5', '"a:b"', '0', '"007"', 'null']) {
      const body = deleteBody(idJson);
      const answer = await post(raisePath(), body, signedHeaders(body));
      expect({ idJson, status: answer.status, reason: errorOf(answer) }).toEqual({
        idJson,
        status: 400,
        reason: 'malformed_record',
      });
    }
    // The same upserts are refused by the same rule.
    const upsert = giftBody(5).replace('"id":5', '"id":"a:b"');
    const refused = await post(raisePath(), upsert, signedHeaders(upsert));
    expect([refused.status, errorOf(refused)]).toEqual([400, 'malformed_record']);
    expect(await topicMessageCount(stack, topic)).toBe(before);

    const valid = deleteBody('9007199254740991');
    expect((await post(raisePath(), valid, signedHeaders(valid))).status).toBe(202);
    expect(await landed('9007199254740991')).toBe(1);
  });

  it('counts a client that disconnects mid-body as client_aborted: no error log, no 5xx', async () => {
    const body = giftBody(6);
    const gone = open(raisePath(), {
      'content-length': String(Buffer.byteLength(body)),
      ...signedHeaders(body),
    });
    // Headers and part of the body are on the wire; then the client goes away.
    await gone.write(body.slice(0, 20));
    gone.destroy();
    await gone.closed;
    await expectEventually(async () => {
      expect(await rejected('client_aborted')).toBe(1);
    });
    const text = await metricsText();
    const mine = webhookSeries(text).filter((l) => l.includes(`customer_id="${customer.id}"`));
    expect(mine.filter((l) => /reason="(internal_unavailable|kafka_unavailable)"/.test(l))).toEqual(
      [],
    );
    const logs = ingest.app.logs();
    expect(logs.filter((l) => l.msg === 'webhook handling failed')).toEqual([]);
    expect(logs.filter((l) => l.reason === 'client_aborted')).toEqual([]);
    expect(logs.filter((l) => l.customerId === customer.id && l.level === 'error')).toEqual([]);
  });

  it('holds the CRM+ receiver to the same rules: headers first, strict signature, one record-ID rule', async () => {
    const crmSecret = `crm_${randomBytes(16).toString('hex')}`;
    const crmCustomer = await new CustomerRepository(
      stack.dataSource,
      SecretBox.fromHex(SECRETS_KEY),
    ).create(customerScope(randomUUID()), {
      name: `CRM+ edges ${stack.prefix}`,
      credentials: { crmPlus: { webhookSecret: crmSecret } },
    });
    const path = `/webhooks/${crmCustomer.id}/crm-plus`;
    const sign = (body: string): string =>
      createHmac('sha256', crmSecret).update(body).digest('base64');
    const crmPost = (body: string, signature: string | string[]) =>
      post(path, body, { 'x-virtuous-signature': signature });
    const answerOf = async (sent: Promise<RawAnswer>): Promise<string> => {
      const answer = await sent;
      return `${answer.status} ${answer.status < 300 ? (JSON.parse(answer.body) as { outcome: string }).outcome : errorOf(answer)}`;
    };
    const rows = () =>
      stack.dataSource.query<Array<{ raise_id: string; crm_id: string }>>(
        `SELECT raise_id, crm_id FROM cross_product_arrivals WHERE customer_id = $1 ORDER BY crm_id`,
        [crmCustomer.id],
      );

    // No signature: refused from the headers, the announced body never sent.
    const unsigned = open(path, { 'content-length': String(MAX_BODY) });
    expect(await answerOf(unsigned.answer)).toBe('401 missing_signature');
    await unsigned.closed;

    let body = '';
    let signature = '';
    let crmId = 70;
    while (!/[+/]/.test(signature)) {
      crmId += 1;
      body = JSON.stringify({
        event: 'GiftCreate',
        gift: { id: crmId, transactionSource: 'raise', transactionId: '7100', amount: 5 },
      });
      signature = sign(body);
    }
    expect(await answerOf(crmPost(body, signature))).toBe('200 recorded');
    for (const variant of [
      signature.replace(/=$/, ''),
      `${signature}AAAA`,
      `${signature.slice(0, 20)} ${signature.slice(20)}`,
      signature.replace(/\+/g, '-').replace(/\//g, '_'),
    ]) {
      expect(await answerOf(crmPost(body, variant))).toBe('401 bad_signature');
    }
    expect(await answerOf(crmPost(body, [signature, signature]))).toBe('400 duplicate_header');

    const badId = JSON.stringify({
      event: 'GiftCreate',
      gift: { id: 'a:b', transactionSource: 'raise' },
    });
    expect(await answerOf(crmPost(badId, sign(badId)))).toBe('400 malformed_record');
    const badPointer = JSON.stringify({
      event: 'GiftCreate',
      gift: { id: 99, transactionSource: 'raise', transactionId: '7100:1' },
    });
    expect(await answerOf(crmPost(badPointer, sign(badPointer)))).toBe('200 not_from_raise');
    expect((await rows()).map((r) => [r.raise_id, r.crm_id])).toEqual([['7100', String(crmId)]]);
  });
});
