import crypto from 'node:crypto';
import { backfill, listConflicts, TOAST_PLACEHOLDER, verify } from '../../sync';
import { collectRecords, eventually } from '../helpers';
import { runCli } from '../helpers/cli';
import { captureStack, type CaptureStack } from './capture-fixture';

jest.setTimeout(120_000);

/**
 * Two-way sync of an aggregate whose legacy side is captured from its own tables (no outbox, no version, no origin
 * column): the table-capture relay on legacy, the outbox relay on the service, and both directions of the sync.
 */
describe('sync from captured tables', () => {
  let stack: CaptureStack;
  const book = (id: number) => stack.legacyBook(id);
  const title = (id: number) => stack.serviceDocument(id);
  const verifyBook = () => verify(stack.stores[0]!, { legacy: stack.legacy.pool, service: stack.service.pool }, { chunkSize: 7, maxExamples: 5 });
  /** Waits until the write's applied change and its echo (skipped) were counted; answers the counts' deltas. */
  const counts = async () => ({
    toServiceApplied: await stack.outcomes('toService', 'applied'),
    toServiceSkipped: await stack.outcomes('toService', 'skipped'),
    toServiceStale: await stack.outcomes('toService', 'stale'),
    toLegacyApplied: await stack.outcomes('toLegacy', 'applied'),
  });

  beforeAll(async () => {
    // Rows the capture never saw: they exist before the relay's slot does.
    stack = await captureStack('sfg_capsync', {
      seed: `insert into lib.books (id, title, "order", blurb) select n, 'Book ' || n, n % 4, 'about ' || n from generate_series(1, 20) n;
             insert into lib.copies (book_id, shelf, "position") select n, 'S' || n || '-' || p, p from generate_series(1, 20) n, generate_series(0, 1) p;`,
    });
    await stack.startSync();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('backfills the rows the capture never saw into the differently shaped service, then verifies 0 drift by content', async () => {
    const before = await verifyBook();
    expect(before.counts.missingInTarget).toBe(20);
    const result = await backfill(stack.stores[0]!, { legacy: stack.legacy.pool, service: stack.service.pool }, { chunkSize: 6, checkpointName: 'book', restart: false, legacyOrigin: 'legacy' });
    expect(result).toMatchObject({ scanned: 20, copied: 20, skipped: 0 });
    expect(await title(3)).toEqual({ titleId: 3, name: 'Book 3', sortOrder: 3, summary: 'about 3', notes: '', revision: 1, shelves: [{ shelfCode: 'S3-0' }, { shelfCode: 'S3-1' }] });
    const report = await verifyBook();
    expect(report).toMatchObject({ sourceRows: 20, targetRows: 20, driftRows: 0 });
    // Again, from the first row: every document is the same by content, so nothing is copied.
    const again = await backfill(stack.stores[0]!, { legacy: stack.legacy.pool, service: stack.service.pool }, { chunkSize: 50, checkpointName: 'book', restart: true, legacyOrigin: 'legacy' });
    expect(again).toMatchObject({ scanned: 20, copied: 0, skipped: 20 });
    const state = await stack.service.pool.query(`select count(*)::int as n from strangler_sync_state where aggregate = 'book' and updated_at is not null`);
    expect(state.rows[0].n).toBe(20);
  });

  it('brings legacy inserts, updates, a change only to the joined table and deletes to the service, one applied change each', async () => {
    const expectOneApplied = async (write: () => Promise<unknown>, reached: () => Promise<boolean>) => {
      const start = await counts();
      await write();
      await eventually(reached, 30_000, 'the legacy write reached the service');
      await stack.toServiceCaughtUp();
      expect((await stack.outcomes('toService', 'applied')) - start.toServiceApplied).toBe(1);
      return start;
    };
    await expectOneApplied(
      () => stack.legacy.pool.query(`with b as (insert into lib.books (id, title, "order") values (100, 'New', 2) returning id) insert into lib.copies (book_id, shelf, "position") select id, 'N-1', 0 from b`),
      async () => (await title(100))?.shelves.length === 1,
    );
    expect(await title(100)).toEqual({ titleId: 100, name: 'New', sortOrder: 2, summary: null, notes: '', revision: 1, shelves: [{ shelfCode: 'N-1' }] });
    await expectOneApplied(() => stack.legacy.pool.query(`update lib.books set title = 'Renamed', "order" = 9 where id = 100`), async () => (await title(100))?.name === 'Renamed');
    expect(await title(100)).toMatchObject({ sortOrder: 9, revision: 2 });
    await expectOneApplied(() => stack.legacy.pool.query(`insert into lib.copies (book_id, shelf, "position") values (100, 'N-2', 1)`), async () => (await title(100))?.shelves.length === 2);
    expect((await title(100))!.shelves).toEqual([{ shelfCode: 'N-1' }, { shelfCode: 'N-2' }]);
    await expectOneApplied(() => stack.legacy.pool.query(`delete from lib.copies where book_id = 100 and shelf = 'N-1'`), async () => (await title(100))?.shelves.length === 1);
    await expectOneApplied(() => stack.legacy.pool.query(`delete from lib.books where id = 100`), async () => (await title(100)) === undefined);
    expect((await stack.service.pool.query('select count(*)::int as n from title_shelves where title_id = 100')).rows[0].n).toBe(0);
  });

  it('keeps a TOASTed text that an update left unchanged: the record carries the placeholder, the service keeps the text', async () => {
    const blurb = crypto.randomBytes(3_000).toString('base64'); // ~4 KB that does not compress: stored out of line
    await stack.legacy.pool.query(`update lib.books set blurb = $1 where id = 5`, [blurb]);
    await eventually(async () => (await title(5))?.summary === blurb, 30_000, 'the long text reached the service');
    await stack.legacy.pool.query(`update lib.books set title = 'Only the title' where id = 5`);
    await eventually(async () => (await title(5))?.name === 'Only the title', 30_000, 'the title change reached the service');
    expect((await title(5))!.summary).toBe(blurb);
    // The capture did send the placeholder for the unchanged TOASTed value: the service never stored it.
    const records = await collectRecords({ topics: [`${stack.captureTopicPrefix}.lib.books`], count: 2, timeoutMs: 30_000, distinctBy: (record) => (record.value?.includes('Only the title') ? 'hit' : 'other') });
    const update = records.map((record) => (record.value ? JSON.parse(record.value) : null)).find((value) => value?.after?.title === 'Only the title');
    expect(update?.after?.blurb).toBe(TOAST_PLACEHOLDER);
    expect((await stack.service.pool.query(`select count(*)::int as n from titles where summary = $1`, [TOAST_PLACEHOLDER])).rows[0].n).toBe(0);
  });

  it('writes service changes into legacy and never echoes them: one applied change on legacy, the capture of the write-back skipped', async () => {
    const writeAndCount = async (titleId: number, change: Parameters<CaptureStack['serviceWrite']>[1], reached: () => Promise<boolean>) => {
      const start = await counts();
      await stack.serviceWrite(titleId, change);
      await eventually(reached, 30_000, 'the service write reached legacy');
      // The write-back's own captured records come back to the other direction: skipped, before any transaction.
      await stack.toServiceCaughtUp();
      const end = await counts();
      expect(end.toServiceSkipped).toBeGreaterThan(start.toServiceSkipped);
      expect(end.toLegacyApplied - start.toLegacyApplied).toBe(1);
      expect(end.toServiceApplied - start.toServiceApplied).toBe(0);
      expect(end.toServiceStale - start.toServiceStale).toBe(0);
    };
    await writeAndCount(7, (current) => ({ ...current!, name: 'Service title', shelves: [{ shelfCode: 'X-1' }, { shelfCode: 'X-2' }, { shelfCode: 'X-3' }] }), async () => (await book(7))?.copies.length === 3);
    expect(await book(7)).toMatchObject({ title: 'Service title', order: 3, blurb: 'about 7', copies: ['X-1', 'X-2', 'X-3'] });
    expect((await title(7))!.revision).toBe(2);
    await writeAndCount(200, () => ({ titleId: 200, name: 'Born in the service', sortOrder: 1, summary: null, notes: '', shelves: [] }), async () => (await book(200)) !== undefined);
    expect(await book(200)).toMatchObject({ title: 'Born in the service', order: 1, copies: [] });
    await writeAndCount(200, () => null, async () => (await book(200)) === undefined);
    // The service's own row is untouched by the round trip: still the revision its writes gave it.
    expect((await title(7))!.revision).toBe(2);
  });

  it('records an update_origin_differs conflict with both images, keeps the owner, and re-applies the other side with strangler conflicts apply', async () => {
    await stack.stopSync(['toLegacy']);
    // The service writes; its event waits, unapplied; then legacy writes the same book: a concurrent pair.
    await stack.serviceWrite(9, (current) => ({ ...current!, name: 'Service wins' }));
    await stack.legacy.pool.query(`update lib.books set title = 'Legacy loses' where id = 9`);
    const conflict = await eventually(async () => (await listConflicts(stack.service.pool, { aggregate: 'book' })).find((row) => row.key === '9'), 30_000, 'the conflict recorded');
    expect(conflict).toMatchObject({ kind: 'update_origin_differs', kept: 'service', legacyImage: expect.objectContaining({ title: 'Legacy loses' }), serviceImage: expect.objectContaining({ name: 'Service wins' }) });
    const metric = await stack.registries.toService.getSingleMetric('strangler_sync_conflicts_total')!.get();
    expect(metric.values).toEqual([expect.objectContaining({ labels: { aggregatetype: 'book', kind: 'update_origin_differs' }, value: 1 })]);
    expect((await title(9))!.name).toBe('Service wins');
    // The owner's write reaches legacy once the write-back runs again.
    await stack.startSync(['toLegacy']);
    await eventually(async () => (await book(9))?.title === 'Service wins', 30_000, "the service's write applied to legacy");

    const env = { legacy: stack.legacy.url, service: stack.service.url };
    const listed = await runCli(['conflicts', 'list', '--service', env.service, '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ id: conflict.id, key: '9', kind: 'update_origin_differs' })]);
    const text = await runCli(['conflicts', 'list', '--service', env.service]);
    expect(text.out).toContain(`#${conflict.id}`);
    expect(text.out).toContain('"title":"Legacy loses"');

    const revision = (await title(9))!.revision;
    const applied = await runCli(['conflicts', 'apply', conflict.id, '--keep', 'legacy', '--mapping', stack.mappingFile, '--legacy', env.legacy, '--service', env.service]);
    expect(applied).toMatchObject({ code: 0, out: expect.stringContaining("legacy's image applied to both sides") });
    expect(await book(9)).toMatchObject({ title: 'Legacy loses' });
    expect(await title(9)).toMatchObject({ name: 'Legacy loses', revision: revision + 1 });
    expect(await listConflicts(stack.service.pool)).toEqual([]);
    const again = await runCli(['conflicts', 'apply', conflict.id, '--keep', 'service', '--mapping', stack.mappingFile, '--legacy', env.legacy, '--service', env.service]);
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining('already resolved') });
    // The operator's write-back is marked like the sync's: nothing comes back, and the two sides agree.
    await eventually(async () => (await verifyBook()).driftRows === 0, 30_000, '0 drift after the conflict was applied');
  });

  it('verifies 0 drift at the end, through the CLI as well', async () => {
    await eventually(async () => (await verifyBook()).driftRows === 0, 30_000, '0 drift');
    const result = await runCli(['verify', 'book', '--mapping', stack.mappingFile, '--legacy', stack.legacy.url, '--service', stack.service.url]);
    expect(result).toMatchObject({ code: 0, out: expect.stringContaining('no drift') });
  });
});
