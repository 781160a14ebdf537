import { backfill, listConflicts, verify } from '../../sync';
import { eventually } from '../helpers';
import { captureStack, lostWrites, type CaptureStack } from './capture-fixture';

jest.setTimeout(600_000);

const KEYS = 20;
const ROUNDS = 30;

/**
 * No lost writes: an unmodified monolith (legacy, captured) and the service that owns the aggregate write the same
 * aggregates at the same moments, over and over. Every write appends a marker of its own to the `notes` text. Once
 * both directions are quiet, each accepted write is either in the final value, which both sides hold, or in the
 * losing image of a recorded conflict: none is silently lost.
 */
describe.each([['service'], ['legacy']] as const)('sync from captured tables: no lost writes (owner %s)', (owner) => {
  let stack: CaptureStack;

  beforeAll(async () => {
    stack = await captureStack('sfg_caplost', {
      owner,
      seed: `insert into lib.books (id, title, "order") select n, 'Book ' || n, n from generate_series(1, ${KEYS}) n;
             insert into lib.copies (book_id, shelf, "position") select n, 'S' || n, 0 from generate_series(1, ${KEYS}) n;`,
    });
    await stack.startSync();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it(`${KEYS} aggregates x ${ROUNDS} rounds written on both sides at once: every accepted write is on both sides or a recorded conflict`, async () => {
    const pools = { legacy: stack.legacy.pool, service: stack.service.pool };
    const backfilled = await backfill(stack.stores[0]!, pools, { chunkSize: 100, checkpointName: 'book', restart: false, legacyOrigin: 'legacy' });
    expect(backfilled.copied).toBe(KEYS);

    const accepted: Array<{ key: number; marker: string }> = [];
    // Per round and key, a fixed pseudo-random choice: both sides write (half the time; after 0-40 ms each: they
    // collide), or only legacy, or only the service; rounds are 100 ms apart, so some writes reach the other side before the next.
    let seed = 42;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return Math.floor(seed / 65_536) % below;
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    let planned = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const writes: Array<Promise<void>> = [];
      for (let key = 1; key <= KEYS; key += 1) {
        const mode = random(4);
        if (mode !== 3) {
          const delay = random(41);
          planned += 1;
          writes.push(
            (async () => {
              const marker = `L${key}.${round}`;
              await pause(delay);
              const result = await stack.legacy.pool.query(`update lib.books set notes = notes || ' ' || $2 where id = $1`, [key, marker]);
              if (result.rowCount === 1) accepted.push({ key, marker });
            })(),
          );
        }
        if (mode !== 2) {
          const delay = random(41);
          planned += 1;
          writes.push(
            (async () => {
              const marker = `S${key}.${round}`;
              await pause(delay);
              const written = await stack.serviceWrite(key, (current) => ({ ...current!, notes: `${current!.notes} ${marker}` }));
              if (written) accepted.push({ key, marker });
            })(),
          );
        }
      }
      await Promise.all(writes);
      await pause(100);
    }
    expect(accepted).toHaveLength(planned);

    // Quiet: every change of either side consumed by the other direction, and the two sides agree.
    await eventually(
      async () => {
        await stack.toLegacyCaughtUp(120_000);
        await stack.toServiceCaughtUp(120_000);
        return (await verify(stack.stores[0]!, pools, { chunkSize: 100, maxExamples: 3 })).driftRows === 0;
      },
      180_000,
      'both sides quiet and in agreement',
      500,
    );

    const conflicts = await listConflicts(stack.service.pool, { includeResolved: true, limit: 100_000 });
    const finalNotes = new Map<number, string>();
    for (let key = 1; key <= KEYS; key += 1) {
      const legacyNotes = (await stack.legacyBook(key))!.notes;
      expect((await stack.serviceDocument(key))!.notes).toBe(legacyNotes);
      finalNotes.set(key, legacyNotes);
    }
    const { lost, inFinal } = lostWrites(accepted, finalNotes, conflicts);
    const kept = inFinal.length;
    const keptLegacy = inFinal.filter((write) => write.marker.startsWith('L')).length;
    const recordedLosers = accepted.length - kept - lost.length;
    const kinds = conflicts.reduce<Record<string, number>>((counts, conflict) => ({ ...counts, [conflict.kind]: (counts[conflict.kind] ?? 0) + 1 }), {});
    console.log(JSON.stringify({ owner, writes: accepted.length, inFinalValue: kept, legacyInFinalValue: keptLegacy, inConflicts: recordedLosers, lost: lost.length, conflicts: conflicts.length, kinds }));
    expect(lost).toEqual([]);
    // The owner's writes never lose.
    expect(conflicts.every((conflict) => conflict.kept === owner)).toBe(true);
    expect(conflicts.length).toBeGreaterThan(0);
  });
});
