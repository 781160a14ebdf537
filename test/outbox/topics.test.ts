import type { Admin, ITopicConfig } from 'kafkajs';
import { createTopicsWithLeaders, TopicLeadersTimeoutError } from '../../outbox';

type Metadata = { topics: Array<{ name: string; partitions: Array<{ partitionId: number; leader: number }> }> };

/** An admin whose metadata answers come from a script, one per call (the last one repeats). */
function scriptedAdmin(answers: Array<Metadata | Error>): { admin: Admin; created: ITopicConfig[][]; metadataCalls: () => number } {
  const created: ITopicConfig[][] = [];
  let calls = 0;
  const admin = {
    createTopics: async ({ topics }: { topics: ITopicConfig[] }) => {
      created.push(topics);
      return true;
    },
    fetchTopicMetadata: async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as Admin;
  return { admin, created, metadataCalls: () => calls };
}

const kafkaError = (type: string) => Object.assign(new Error(type), { type });
const led = (name: string, leaders: number[]): Metadata['topics'][number] => ({ name, partitions: leaders.map((leader, partitionId) => ({ partitionId, leader })) });

describe('createTopicsWithLeaders', () => {
  it('waits through UNKNOWN_TOPIC_OR_PARTITION and leaderless partitions until every partition has a leader', async () => {
    const { admin, created, metadataCalls } = scriptedAdmin([
      kafkaError('UNKNOWN_TOPIC_OR_PARTITION'),
      Object.assign(new Error('retries exceeded'), { originalError: kafkaError('LEADER_NOT_AVAILABLE') }),
      { topics: [led('a', [1, -1])] },
      { topics: [led('a', [1, 1]), led('b', [1])] },
    ]);
    await expect(createTopicsWithLeaders(admin, [{ topic: 'a', numPartitions: 2 }, { topic: 'b', numPartitions: 1 }], 5_000)).resolves.toBe(true);
    expect(created).toEqual([[{ topic: 'a', numPartitions: 2 }, { topic: 'b', numPartitions: 1 }]]);
    expect(metadataCalls()).toBe(4);
  });

  it('rethrows any other error at once', async () => {
    const { admin, metadataCalls } = scriptedAdmin([kafkaError('TOPIC_AUTHORIZATION_FAILED')]);
    await expect(createTopicsWithLeaders(admin, [{ topic: 'a' }], 5_000)).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
    expect(metadataCalls()).toBe(1);
  });

  it('gives up after the timeout with a retriable SFG_OUTBOX_TOPIC_LEADERS_TIMEOUT naming the leaderless topic', async () => {
    const { admin } = scriptedAdmin([{ topics: [led('a', [1]), led('b', [-1, 1])] }]);
    const failure = createTopicsWithLeaders(admin, [{ topic: 'a' }, { topic: 'b' }], 300);
    await expect(failure).rejects.toBeInstanceOf(TopicLeadersTimeoutError);
    await expect(failure).rejects.toMatchObject({ code: 'SFG_OUTBOX_TOPIC_LEADERS_TIMEOUT', retriable: true, topics: ['a', 'b'], message: expect.stringContaining('leaders of b') });
  });
});
