/**
 * The floor the webhook benchmark measures ingest against, run as a process of its own like
 * ingest: a bare node:http server that does a webhook's necessary work and nothing else. It reads
 * the body, checks the Raise signature (the same HMAC), parses and maps the gift into an event,
 * and answers 202 only once the broker acknowledged it with acks=all. The write goes through the
 * same batching publisher and producer ingest uses (shared linger, one lane per partition).
 * Missing here: framework, logging, metrics, the customer lookup, body limits and the replay
 * check.
 *
 * Environment: FLOOR_PORT, FLOOR_SECRET, FLOOR_TOPIC_PREFIX, FLOOR_CUSTOMER_ID, KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL. Prints "ready" on stdout once it listens.
 */
import { createServer } from 'node:http';
import { newSourceEvent } from '@raise-sync/shared/events';
import {
  BatchingPublisher,
  EventCodec,
  EventProducer,
  KafkaConnection,
  pipelineTopicSpecs,
  topicsFor,
} from '@raise-sync/shared/kafka';
import {
  RAISE_WEBHOOK_HEADERS,
  raiseToRecord,
  verifyRaiseSignatureDigest,
} from '@raise-sync/sources';
import { env } from './util';

async function main(): Promise<void> {
  const secret = env('FLOOR_SECRET');
  const customerId = env('FLOOR_CUSTOMER_ID');
  const topics = topicsFor(env('FLOOR_TOPIC_PREFIX'));
  const topic = topics.sourceEvents('raise', 'gift');
  const kafka = KafkaConnection.create({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'bench-webhook-floor',
  });
  const codec = new EventCodec(env('SCHEMA_REGISTRY_URL'));
  await kafka.ensureTopics(pipelineTopicSpecs(topics));
  await codec.registerEventSchema(topic, 'gift');
  const producer = new EventProducer(kafka, codec);
  await producer.connect();
  // The linger ingest runs with by default (PUBLISH_LINGER_MS).
  const publisher = new BatchingPublisher(producer, { lingerMs: 5 });

  const answer = (res: import('node:http').ServerResponse, status: number): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(`{"status":${status}}`);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const signature = req.headers[RAISE_WEBHOOK_HEADERS.signature];
      const timestamp = Number(req.headers[RAISE_WEBHOOK_HEADERS.timestamp]);
      if (
        typeof signature !== 'string' ||
        !verifyRaiseSignatureDigest(secret, timestamp, body, signature)
      ) {
        answer(res, 401);
        return;
      }
      const { data } = JSON.parse(body.toString('utf8')) as { data: never };
      const mapped = raiseToRecord('gift', data);
      const event = newSourceEvent({
        customerId,
        source: 'raise',
        resource: 'gift',
        operation: 'upsert',
        origin: 'webhook',
        recordId: mapped.recordId,
        sourceModifiedAt: mapped.sourceModifiedAt,
        record: mapped.record,
      } as never);
      publisher.publish(topic, [event]).then(
        () => answer(res, 202),
        () => answer(res, 503),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = Number(env('FLOOR_PORT'));
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    server.close();
    void producer.disconnect().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
