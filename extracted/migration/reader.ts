import type { Pool } from 'pg';
import { rowToEntity, TABLES, type AggregateOf, type AggregateType, type StoredAggregate } from '../common/aggregates';

/**
 * Reads one aggregate table in primary-key order, `chunkSize` rows per query (keyset pagination, so a
 * concurrent insert never shifts a page). Starts after `afterId` when resuming.
 */
export async function* readInIdOrder<T extends AggregateType>(
  pool: Pool,
  aggregateType: T,
  options: { chunkSize: number; afterId?: string },
): AsyncGenerator<StoredAggregate<T>[]> {
  const descriptor = TABLES[aggregateType];
  const firstPage = `${descriptor.sql.select} order by id limit $1`;
  const nextPage = `${descriptor.sql.select} where id > $2 order by id limit $1`;
  let afterId = options.afterId;
  for (;;) {
    const { rows } = afterId
      ? await pool.query(nextPage, [options.chunkSize, afterId])
      : await pool.query(firstPage, [options.chunkSize]);
    if (rows.length === 0) return;
    yield rows.map((row: Record<string, unknown>) => ({ entity: rowToEntity(descriptor, row) as AggregateOf[T], origin: String(row.origin) }));
    afterId = String(rows[rows.length - 1].id);
    if (rows.length < options.chunkSize) return;
  }
}

export async function countRows(pool: Pool, aggregateType: AggregateType): Promise<number> {
  const { rows } = await pool.query(`select count(*)::int as count from ${TABLES[aggregateType].table}`);
  return rows[0].count;
}
