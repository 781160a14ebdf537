import { saveAggregate } from '../../legacy-monolith';
import { legacyProduct as product, migrateSide, saveCatalogProduct } from './shop-data';
import { CASE_STUDY_MAPPING_FILE } from '../../case-study/mapping';
import { CHECKPOINT_TABLE } from '../../sync';
import { backfillAggregate, verifyAggregate } from './mapping-helpers';
import { main } from '../../cli';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { Registry } from 'prom-client';
import { caseStudyMapping } from '../../case-study/mapping';
import { createDriftGauge, DriftMonitor, openAggregates } from '../../sync';
import { silentLogger } from './fixtures';
import { eventually } from '../helpers';

async function captureOutput(run: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    return { code: await run(), stdout: lines.join('\n') };
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}

describe('backfill and verify', () => {
  let legacy: TestDatabase;
  let catalog: TestDatabase;

  beforeAll(async () => {
    [legacy, catalog] = await Promise.all([createTestDatabase('sfg_bf_legacy'), createTestDatabase('sfg_bf_catalog')]);
    await Promise.all([migrateSide(legacy.pool, 'legacy'), migrateSide(catalog.pool, 'catalog')]);
  });
  afterAll(async () => {
    await Promise.all([legacy?.drop(), catalog?.drop()]);
  });

  it('copies in resumable chunks while writes continue, never overwriting a newer target row, then verifies clean', async () => {
    const seeded = Array.from({ length: 25 }, () => product({ version: 2 }));
    for (const row of seeded) await saveAggregate(legacy.pool, 'product', row, 'legacy');
    const sorted = [...seeded].sort((a, b) => a.id.localeCompare(b.id));
    // Sync already delivered a newer version of one row to the service: backfill must keep it.
    const newer = { ...sorted[20]!, version: 3, name: 'Kettle (renamed on the new side)' };
    await saveCatalogProduct(catalog.pool, newer, 'catalog');

    const abort = new AbortController();
    const options = { chunkSize: 10, checkpointName: 'product:test', restart: false };
    const first = await backfillAggregate(legacy.pool, catalog.pool, 'product', options, (progress) => progress.scanned >= 10 && abort.abort(), abort.signal);
    expect(first).toMatchObject({ scanned: 10, copied: 10, skipped: 0, total: 25, resumedAfterKey: null });

    // Writes continue between the runs: an update to a row not yet copied, and a new row.
    await saveAggregate(legacy.pool, 'product', { ...sorted[15]!, version: 3, stock: 1 }, 'legacy');
    const late = product({ id: 'ffffffff-ffff-4fff-bfff-ffffffffffff' });
    await saveAggregate(legacy.pool, 'product', late, 'legacy');

    const second = await backfillAggregate(legacy.pool, catalog.pool, 'product', options);
    expect(second.resumedAfterKey).toBe(sorted[9]!.id);
    expect(second).toMatchObject({ scanned: 26, copied: 25, skipped: 1, total: 26 });
    expect((await catalog.pool.query('select title, version from products where id = $1', [newer.id])).rows[0]).toEqual({ title: newer.name, version: 3 });
    const { rows } = await catalog.pool.query(`select finished_at from ${CHECKPOINT_TABLE} where name = 'product:test'`);
    expect(rows[0].finished_at).toBeInstanceOf(Date);
    expect((await backfillAggregate(legacy.pool, catalog.pool, 'product', options)).alreadyComplete).toBe(true);

    const report = await verifyAggregate(legacy.pool, catalog.pool, 'product', { chunkSize: 7, maxExamples: 5 });
    expect(report).toMatchObject({ sourceRows: 26, targetRows: 26, driftRows: 1, counts: { missingInTarget: 0, missingInSource: 0, stale: 1, different: 0 } });
    expect(report.examples).toEqual([{ kind: 'stale', id: newer.id, sourceVersion: 2, targetVersion: 3 }]);
  });

  it('reports each kind of drift with examples, exits 1 and exports strangler_sync_drift_rows', async () => {
    const [kept, changed, dropped] = [product(), product(), product()];
    for (const row of [kept, changed, dropped]) {
      await saveAggregate(legacy.pool, 'product', row, 'legacy');
      await saveCatalogProduct(catalog.pool, row, 'legacy');
    }
    await catalog.pool.query('update products set list_price = 0.01 where id = $1', [changed.id]);
    await catalog.pool.query('delete from products where id = $1', [dropped.id]);
    await catalog.pool.query('delete from stock_levels where product_id = $1', [dropped.id]);
    const onlyNew = product();
    await saveCatalogProduct(catalog.pool, onlyNew, 'catalog');

    const args = ['verify', 'product', '--mapping', CASE_STUDY_MAPPING_FILE, '--legacy', legacy.url, '--service', catalog.url, '--prometheus', '--chunk-size', '4'];
    const { code, stdout } = await captureOutput(() => main(args));
    expect(code).toBe(1);
    // The stale row of the first test is still there: 1 stale + 1 different + 1 missing in target + 1 missing in source.
    // The service side is named by its database.
    const service = new URL(catalog.url).pathname.slice(1);
    expect(stdout).toContain(`4 drifting: 1 missing in ${service}, 1 missing in legacy, 1 stale, 1 different`);
    expect(stdout).toMatch(new RegExp(`different\\s+${changed.id} legacy v1 ${service} v1`));
    expect(stdout).toMatch(new RegExp(`missingInTarget\\s+${dropped.id}`));
    expect(stdout).toMatch(new RegExp(`missingInSource\\s+${onlyNew.id}`));
    expect(stdout).toContain('strangler_sync_drift_rows{aggregatetype="product"} 4');

    // A restarted backfill repairs what it can (missing and content drift are only fixed by newer versions).
    expect((await captureOutput(() => main(['backfill', 'product', '--mapping', CASE_STUDY_MAPPING_FILE, '--legacy', legacy.url, '--service', catalog.url, '--restart']))).code).toBe(0);
    const after = await verifyAggregate(legacy.pool, catalog.pool, 'product', { chunkSize: 100, maxExamples: 1 });
    expect(after.counts).toEqual({ missingInTarget: 0, missingInSource: 1, stale: 1, different: 1 });
  });

  it('keeps serving the drift gauge with --metrics-port, re-verifying until SIGINT', async () => {
    const errors: string[] = [];
    const errorSpy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    const logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const running = main(['verify', 'product', '--mapping', CASE_STUDY_MAPPING_FILE, '--legacy', legacy.url, '--service', catalog.url, '--metrics-port', '0', '--interval-ms', '100']);
      const served = await eventually(async () => errors.join('\n').match(/http:\/\/127\.0\.0\.1:(\d+)\/metrics/), 10_000, 'metrics URL');
      const exposition = await (await fetch(`http://127.0.0.1:${served[1]}/metrics`)).text();
      expect(exposition).toMatch(/strangler_sync_drift_rows\{aggregatetype="product"\} \d+/);
      process.emit('SIGINT');
      expect(await running).toBe(1);
    } finally {
      errorSpy.mockRestore();
      logSpy.mockRestore();
    }
  });

  it("exports the settled drift of an aggregate from the framework's drift monitor, as the demo runs it", async () => {
    const registry = new Registry();
    const mapping = caseStudyMapping();
    const pools = { legacy: legacy.pool, service: catalog.pool };
    const [stores] = await openAggregates(mapping, [mapping.aggregates.get('product')!], pools);
    const monitor = new DriftMonitor([{ stores: stores!, pools }], { intervalMs: 50 }, { gauge: createDriftGauge(registry), logger: silentLogger });
    monitor.start();
    try {
      const expected = (await verifyAggregate(legacy.pool, catalog.pool, 'product', { chunkSize: 100, maxExamples: 0 })).driftRows;
      expect(expected).toBeGreaterThan(0);
      // These rows drift the same way in every check, so from the second check on they count as settled.
      await eventually(async () => (await registry.metrics()).includes(`strangler_sync_drift_rows{aggregatetype="product"} ${expected}`), 10_000, 'drift gauge');
    } finally {
      await monitor.stop();
    }
  });
});
