import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { down, infraPaths, resolveEnvironment, type InfraEnvironment, type InfraPaths } from '../../infra';
import { kafkaUp } from '../../infra/kafka';
import { portBelowEphemeralRange } from '../helpers/ports';

jest.setTimeout(240_000);

/** A checkout's own `.infra/` (pids, logs), with the machine's jars and the machine's one broker data directory. */
function checkoutPaths(root: string, name: string, machineKafkaData: string): InfraPaths {
  const stateDir = path.join(root, name, '.infra');
  return { ...infraPaths(), stateDir, logsDir: path.join(stateDir, 'logs'), pidsDir: path.join(stateDir, 'pids'), dataDir: path.join(stateDir, 'data'), kafkaDataDir: machineKafkaData };
}

describe("two checkouts on one machine share its broker's data", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-two-checkouts-'));
  const machineKafkaData = path.join(root, 'machine-cache', 'kafka-data');
  const first = checkoutPaths(root, 'first', machineKafkaData);
  const second = checkoutPaths(root, 'second', machineKafkaData);

  afterAll(async () => {
    await down({ services: ['kafka'], paths: first });
    await down({ services: ['kafka'], paths: second });
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("restarts the same topics and offsets when one checkout's `infra up` follows the other's `infra down`", async () => {
    // A broker on ports of its own, started as `infra up` starts the machine's (not an external one).
    const env: InfraEnvironment = {
      ...resolveEnvironment({}),
      kafkaBrokers: [`127.0.0.1:${await portBelowEphemeralRange()}`],
      kafkaControllerPort: await portBelowEphemeralRange(),
    };
    const log = () => undefined;
    const kafka = new Kafka({ clientId: 'sfg-two-checkouts', brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING, retry: { retries: 8 } });

    expect((await kafkaUp(env, first, log)).startedNow).toBe(true);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'orders-confirmed', acks: -1, messages: [{ key: 'o1', value: 'placed' }, { key: 'o2', value: 'placed' }, { key: 'o1', value: 'paid' }] });
    await producer.disconnect();

    // The second checkout uses the broker the first started, and the first checkout's `infra down` stops it.
    expect((await kafkaUp(env, second, log)).startedNow).toBe(false);
    expect(await down({ services: ['kafka'], paths: first })).toEqual(['kafka']);

    // The second checkout's `infra up` starts the machine's broker again: the confirmed records are all there.
    expect((await kafkaUp(env, second, log)).startedNow).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('orders-confirmed').finally(() => admin.disconnect());
    expect(offsets.every(({ low }) => low === '0')).toBe(true);
    expect(offsets.reduce((records, { high }) => records + Number(high), 0)).toBe(3);
    expect(fs.existsSync(path.join(machineKafkaData, 'meta.properties'))).toBe(true);
    expect(fs.existsSync(path.join(first.dataDir, 'kafka'))).toBe(false);
  });
});
