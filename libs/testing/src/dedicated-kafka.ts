import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { KafkaConnection, probeKafka } from '@raise-sync/shared/kafka';
import { freePort } from './app-process';
import { expectEventually } from './expect-eventually';
import { readTopic } from './topic-read';

const WORKSPACE = resolve(__dirname, '../../..');
const CLUSTER_ID = 'dGVzdC1vd24tYnJva2VyLTE';

export interface DedicatedKafka {
  readonly brokers: string;
  /** Stops the broker (SIGTERM, then SIGKILL after 20 s); its data stays for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
  /** Every message of `topic` up to its current end (values as bytes, keys as text). */
  readAll(topic: string): Promise<Array<{ key: string | null; value: Buffer | null }>>;
}

/**
 * A Kafka broker of a test's own (same jars as tools/infra, own ports and data), for tests that
 * stop and restart Kafka without disturbing the shared stack other test files use. Needs the
 * jars fetched by `tools/infra/infra.sh up` (the global setup runs it when it starts the stack).
 */
export async function startDedicatedKafka(): Promise<DedicatedKafka> {
  const libs = resolve(WORKSPACE, '.infra/kafka/libs');
  if (!existsSync(libs)) {
    // The shared broker may be one we did not start (so no jars here yet): fetch them.
    const fetched = spawnSync('bash', [resolve(WORKSPACE, 'tools/infra/infra.sh'), 'fetch-kafka'], {
      encoding: 'utf8',
      timeout: 10 * 60_000,
    });
    if (fetched.status !== 0 || !existsSync(libs)) {
      throw new Error(`could not fetch the Kafka jars: ${fetched.stderr}`);
    }
  }
  const port = await freePort();
  const controllerPort = await freePort();
  const dir = resolve(WORKSPACE, `tmp/kafka-${randomBytes(4).toString('hex')}`);
  mkdirSync(`${dir}/data`, { recursive: true });
  const properties = readFileSync(resolve(WORKSPACE, 'tools/infra/kafka/server.properties'), 'utf8')
    .replaceAll('@DATA_DIR@', `${dir}/data`)
    .replaceAll('@PORT@', String(port))
    .replaceAll('@CONTROLLER_PORT@', String(controllerPort));
  writeFileSync(`${dir}/server.properties`, properties);
  const jvm = [
    '-Xms128m',
    '-Xmx384m',
    '-XX:+UseSerialGC',
    `-Dlog4j.configuration=file:${resolve(WORKSPACE, 'tools/infra/kafka/log4j.properties')}`,
    '-cp',
    `${libs}/*`,
  ];
  const format = spawnSync(
    'java',
    [
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      CLUSTER_ID,
      '-c',
      `${dir}/server.properties`,
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    throw new Error(`formatting KRaft storage failed: ${format.stderr || format.stdout}`);
  }
  const brokers = `127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    child = spawn('java', [...jvm, 'kafka.Kafka', `${dir}/server.properties`], {
      stdio: 'ignore',
    });
    await expectEventually(() => probeKafka([brokers], 'dedicated', 3000), {
      timeoutMs: 60_000,
      intervalMs: 300,
    });
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null) {
      return;
    }
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    brokers,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async readAll(topic) {
      const kafka = KafkaConnection.create({
        clientId: 'dedicated-reader',
        brokers: [brokers],
        level: 'nothing',
      });
      try {
        const read = await readTopic(kafka, topic, { timeoutMs: 30_000 });
        return read.map((m) => ({ key: m.key?.toString() ?? null, value: m.value }));
      } finally {
        await kafka.close();
      }
    },
  };
}
