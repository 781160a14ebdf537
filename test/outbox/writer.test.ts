import type pg from 'pg';
import { append, appendMany, InvalidEventError, type OutboxEvent } from '../../outbox';

function recordingClient(): { client: pg.ClientBase; queries: { text: string; values: unknown[] }[] } {
  const queries: { text: string; values: unknown[] }[] = [];
  const client = {
    query: async (text: string, values: unknown[] = []) => {
      queries.push({ text, values });
      return { rows: [], rowCount: 0 };
    },
  } as unknown as pg.ClientBase;
  return { client, queries };
}

const valid: OutboxEvent = { aggregateType: 'Order', aggregateId: 'o-1', type: 'OrderCreated', payload: { total: 5 } };

async function rejection(events: OutboxEvent[]): Promise<InvalidEventError> {
  const { client, queries } = recordingClient();
  const error = await appendMany(client, events).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(queries).toHaveLength(0);
  expect(error).toBeInstanceOf(InvalidEventError);
  expect((error as InvalidEventError).code).toBe('SFG_OUTBOX_INVALID_EVENT');
  return error as InvalidEventError;
}

describe('outbox writer validation', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;

  it.each<[string, Partial<OutboxEvent> & Record<string, unknown>, string]>([
    ['empty aggregate type', { aggregateType: '' }, 'aggregateType'],
    ['empty aggregate id', { aggregateId: '' }, 'aggregateId'],
    ['empty type', { type: '' }, 'type'],
    ['aggregate type with a space', { aggregateType: 'Order Line' }, 'aggregateType'],
    ['aggregate type with a slash', { aggregateType: 'a/b' }, 'aggregateType'],
    ['aggregate type too long for a topic', { aggregateType: 'x'.repeat(240) }, 'aggregateType'],
    ['aggregate id over 255', { aggregateId: 'x'.repeat(256) }, 'aggregateId'],
    ['BigInt payload', { payload: { n: BigInt(1) } }, 'payload'],
    ['cyclic payload', { payload: cyclic }, 'payload'],
    ['undefined payload', { payload: undefined }, 'payload'],
    ['function payload', { payload: () => 1 }, 'payload'],
    ['non-string header', { headers: { version: 3 as unknown as string } }, 'headers.version'],
    ['reserved header', { headers: { id: 'x' } }, 'headers.id'],
  ])('rejects %s before writing, naming the field', async (_label, override, field) => {
    const error = await rejection([{ ...valid, ...override } as OutboxEvent]);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('names the index of the bad event in a batch and writes none of the batch', async () => {
    const error = await rejection([valid, valid, { ...valid, type: '' }]);
    expect(error.index).toBe(2);
    expect(error.message).toContain('events[2].type');
  });

  it('checks topic legality against a custom prefix', async () => {
    const { client } = recordingClient();
    await expect(append(client, { ...valid, aggregateType: 'x'.repeat(240) }, { topicPrefix: 'p.' })).resolves.toMatch(/-/);
    await expect(append(client, { ...valid, aggregateType: 'x'.repeat(240) })).rejects.toBeInstanceOf(InvalidEventError);
  });

  it('writes a batch with one insert, in order, with fresh uuids and serialised payload and headers', async () => {
    const { client, queries } = recordingClient();
    const ids = await appendMany(client, [
      { ...valid, headers: { origin: 'legacy', version: '2' } },
      { ...valid, aggregateId: 'o-2', payload: null },
    ]);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(queries).toHaveLength(1);
    const values = queries[0]!.values as unknown[][];
    expect(values[0]).toEqual(ids);
    expect(values[2]).toEqual(['o-1', 'o-2']);
    expect(values[4]).toEqual(['{"total":5}', null]);
    expect(values[5]).toEqual(['{"origin":"legacy","version":"2"}', '{}']);
  });

  it('deletes right after inserting in insert-then-delete mode, in the same transaction (same client)', async () => {
    const { client, queries } = recordingClient();
    const id = await append(client, valid, { deleteAfterInsert: true, schema: 'svc' });
    expect(queries.map((query) => query.text.trim().split(/\s+/)[0])).toEqual(['insert', 'delete']);
    expect(queries[1]!.text).toContain('"svc"."outbox"');
    expect(queries[1]!.values).toEqual([[id]]);
  });
});
