import { collectRecords, createUniqueTopic, testKafka } from '../helpers';

describe('real Kafka broker', () => {
  it('round-trips records with keys and headers through a topic', async () => {
    const topic = await createUniqueTopic('smoke');
    const producer = testKafka().producer({ idempotent: true });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: 'a', value: '{"n":1}', headers: { id: 'e1' } },
          { key: 'a', value: '{"n":2}', headers: { id: 'e2' } },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const records = await collectRecords({ topics: [topic], count: 2, timeoutMs: 30_000 });
    expect(records.map((record) => [record.key, record.value, record.headers.id])).toEqual([
      ['a', '{"n":1}', 'e1'],
      ['a', '{"n":2}', 'e2'],
    ]);
  });
});
