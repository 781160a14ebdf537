import type pg from 'pg';
import { Registry } from 'prom-client';
import { CdcRelay, InvalidOptionsError, PublishError, SlotLostError, parseInboxOptions, parseRelayOptions, type PublishRecord, type Publisher } from '../../outbox';
import { beforeLsn, formatLsn, parseLsn } from '../../outbox/lsn';
import { createRelayMetrics } from '../../outbox/metrics';
import { PublishPipeline, type OutboxRow } from '../../outbox/pipeline';
import { quietLogger } from './support';

const base = { connectionString: 'postgres://localhost/x', kafka: { brokers: ['127.0.0.1:9092'] } };

describe('parseRelayOptions', () => {
  it('fills defaults and derives slot, publication and lock names from the relay name', () => {
    const options = parseRelayOptions({ ...base, name: 'orders' });
    expect(options).toMatchObject({
      mode: 'cdc',
      schema: 'public',
      table: 'outbox',
      slotName: 'strangler_orders',
      publicationName: 'strangler_orders',
      topicPrefix: 'outbox.event.',
      onUnpublishable: 'dlq',
      dlqTopic: 'outbox.dlq',
      heartbeatIntervalMs: 5_000,
      batch: { maxEvents: 5_000, maxPendingEvents: 50_000 },
      polling: { intervalMs: 1_000, batchSize: 5_000 },
      leadership: { lockKey: 'strangler-relay:public.outbox:cdc', retryIntervalMs: 1_000 },
      kafka: { clientId: 'strangler-outbox-relay', maxRecordBytes: 1_000_000 },
    });
  });

  it('reports every problem at once, each with its path', () => {
    let error: unknown;
    try {
      parseRelayOptions({ name: 'Bad Name', mode: 'stream', kafka: { brokers: [] }, slotName: 'a-b', onUnpublishable: 'drop', polling: { batchSize: 0 } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const paths = (error as InvalidOptionsError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['connectionString', 'kafka.brokers', 'mode', 'name', 'onUnpublishable', 'polling.batchSize', 'slotName']);
    expect((error as InvalidOptionsError).code).toBe('SFG_OUTBOX_INVALID_OPTIONS');
  });
});

describe('LSN arithmetic', () => {
  it('round-trips and reports the position just before a commit end', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(beforeLsn('1/0')).toBe('0/FFFFFFFF');
    expect(parseLsn('0/10') > parseLsn('0/F')).toBe(true);
  });
});

class FakePublisher implements Publisher {
  sent: PublishRecord[][] = [];
  failures: Error[] = [];
  refuse = new Set<string>();
  async connect() {}
  async disconnect() {}
  async send(records: PublishRecord[]) {
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (records.some((record) => record.topic !== 'outbox.dlq' && this.refuse.has(record.headers.id!))) throw new PublishError('refused', undefined, false, 'MESSAGE_TOO_LARGE');
    this.sent.push(records);
  }
}

const row = (id: string, aggregateid = 'a'): OutboxRow => ({ id, aggregatetype: 'T', aggregateid, type: 'E', payload: `{"id": "${id}"}`, headers: '{"origin": "x"}' });

function pipelineWith(publisher: Publisher, overrides: Record<string, unknown> = {}) {
  const options = parseRelayOptions({ ...base, retryBackoffMs: { initial: 1, max: 2 }, ...overrides });
  const acked: string[] = [];
  const failures: Error[] = [];
  const pipeline = new PublishPipeline<string>(options, {
    publisher,
    metrics: createRelayMetrics(new Registry(), 'unit'),
    logger: quietLogger,
    onAcked: (token) => void acked.push(token),
    onFailure: (error) => void failures.push(error),
  });
  return { pipeline, acked, failures };
}

describe('PublishPipeline', () => {
  it('batches units pushed together into one send and acknowledges the last token', async () => {
    const publisher = new FakePublisher();
    const { pipeline, acked } = pipelineWith(publisher);
    pipeline.push({ rows: [row('1'), row('2')], token: 'lsn-1', sourceTimeMs: Date.now() });
    pipeline.push({ rows: [row('3')], token: 'lsn-2', sourceTimeMs: Date.now() });
    expect(await pipeline.drain(5_000)).toBe(true);
    expect(publisher.sent).toHaveLength(1);
    expect(publisher.sent[0]!.map((record) => record.headers)).toEqual([
      { id: '1', type: 'E', origin: 'x' },
      { id: '2', type: 'E', origin: 'x' },
      { id: '3', type: 'E', origin: 'x' },
    ]);
    expect(publisher.sent[0]![0]).toMatchObject({ topic: 'outbox.event.T', key: 'a', value: '{"id": "1"}' });
    expect(acked).toEqual(['lsn-2']);
  });

  it('splits a batch into sends of at most 80% of kafka.maxRecordBytes, in order (the broker refuses larger record batches)', async () => {
    const publisher = new FakePublisher();
    const { pipeline, acked } = pipelineWith(publisher, { kafka: { brokers: ['127.0.0.1:9092'], maxRecordBytes: 10_000 } });
    const big = (id: string): OutboxRow => ({ ...row(id), payload: `{"id": "${id}", "pad": "${'x'.repeat(2_900)}"}` });
    pipeline.push({ rows: ['1', '2', '3', '4', '5', '6', '7'].map(big), token: 'lsn-1', sourceTimeMs: Date.now() });
    expect(await pipeline.drain(5_000)).toBe(true);
    // About 3 KB a record: two fit in 8,000 bytes, a third would not.
    expect(publisher.sent.map((send) => send.map((record) => record.headers.id))).toEqual([['1', '2'], ['3', '4'], ['5', '6'], ['7']]);
    expect(acked).toEqual(['lsn-1']);
  });

  it('retries retriable failures without acknowledging, then acknowledges in order', async () => {
    const publisher = new FakePublisher();
    publisher.failures.push(new PublishError('down', undefined, true), new PublishError('down', undefined, true));
    const { pipeline, acked } = pipelineWith(publisher);
    pipeline.push({ rows: [row('1')], token: 'lsn-1', sourceTimeMs: Date.now() });
    expect(await pipeline.drain(5_000)).toBe(true);
    expect(publisher.sent).toHaveLength(1);
    expect(acked).toEqual(['lsn-1']);
  });

  it('isolates a record the broker refuses, dead-letters it, and still sends the others in order', async () => {
    const publisher = new FakePublisher();
    publisher.refuse.add('2');
    const { pipeline, acked } = pipelineWith(publisher);
    pipeline.push({ rows: [row('1'), row('2'), row('3')], token: 'lsn-1', sourceTimeMs: Date.now() });
    expect(await pipeline.drain(5_000)).toBe(true);
    const flat = publisher.sent.flat();
    expect(flat.filter((record) => record.topic === 'outbox.event.T').map((record) => record.headers.id)).toEqual(['1', '3']);
    expect(flat.find((record) => record.topic === 'outbox.dlq')?.headers).toMatchObject({ id: '2', 'sfg.error.code': 'SFG_OUTBOX_MESSAGE_TOO_LARGE' });
    expect(acked).toEqual(['lsn-1']);
  });

  it('skips with onUnpublishable=skip and fails the session with onUnpublishable=stop', async () => {
    const skipping = pipelineWith(new FakePublisher(), { onUnpublishable: 'skip' });
    skipping.pipeline.push({ rows: [{ ...row('1'), aggregatetype: 'no/slash' }, row('2')], token: 't', sourceTimeMs: 0 });
    expect(await skipping.pipeline.drain(5_000)).toBe(true);
    expect(skipping.acked).toEqual(['t']);

    const stopping = pipelineWith(new FakePublisher(), { onUnpublishable: 'stop' });
    stopping.pipeline.push({ rows: [{ ...row('1'), aggregatetype: 'no/slash' }], token: 't', sourceTimeMs: 0 });
    expect(await stopping.pipeline.drain(5_000)).toBe(false);
    expect(stopping.acked).toEqual([]);
    expect(stopping.failures[0]).toMatchObject({ code: 'SFG_OUTBOX_ILLEGAL_TOPIC' });
  });
});

describe('CdcRelay slot checks', () => {
  it("fails with the documented recovery when the slot's wal_status is lost, and never recreates it", async () => {
    const queries: string[] = [];
    const client = {
      query: async (text: string) => {
        queries.push(text);
        if (text.includes('pg_publication')) return { rowCount: 1, rows: [{}] };
        if (text.includes('from pg_replication_slots')) return { rowCount: 1, rows: [{ wal_status: 'lost', plugin: 'pgoutput', database: 'x', ours: true }] };
        return { rowCount: 0, rows: [] };
      },
    } as unknown as pg.Client;
    const relay = new CdcRelay(parseRelayOptions({ ...base, name: 'lost' }), { logger: quietLogger, registry: new Registry(), publisher: new FakePublisher() });
    const prepare = (relay as unknown as { prepareSlot(client: pg.Client): Promise<void> }).prepareSlot.bind(relay);
    const error = await prepare(client).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlotLostError);
    expect((error as SlotLostError).message).toMatch(/docs\/outbox.md/);
    expect(queries.some((text) => text.includes('pg_create_logical_replication_slot'))).toBe(false);
  });
});

describe('parseInboxOptions', () => {
  it('reports every problem at once, including a missing connection', () => {
    let error: unknown;
    try {
      parseInboxOptions({ name: '', groupId: 'g', topics: [], kafka: { brokers: ['127.0.0.1:9092'] } });
    } catch (caught) {
      error = caught;
    }
    expect((error as InvalidOptionsError).issues.map((issue) => issue.path)).toEqual(['name', 'topics', 'connectionString']);
  });

  it('defaults attempts, backoff and the DLQ suffix', () => {
    expect(parseInboxOptions({ name: 'c', groupId: 'g', topics: [/x/], connectionString: 'postgres://h/db', kafka: { brokers: ['b:9092'] } })).toMatchObject({
      maxAttempts: 5,
      retryBackoffMs: 200,
      dlqTopicSuffix: '.dlq',
      schema: 'public',
      topicPrefix: 'outbox.event.',
    });
  });
});
