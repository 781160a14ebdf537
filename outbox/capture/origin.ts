import { ORIGIN_MESSAGE_PREFIX } from './decoder';
import type { Queryable } from './preflight';

/**
 * Marks the current transaction as written by `origin`: the table-capture relay tags every change of the
 * transaction with it (the `origin` header) instead of its default. Call it inside the transaction (a transactional
 * logical decoding message: no superuser needed, nothing written to a table); the sync does so for its write-backs,
 * so their consumer skips them and nothing echoes.
 */
export async function markOrigin(client: Queryable, origin: string): Promise<void> {
  await client.query(`select pg_logical_emit_message(true, '${ORIGIN_MESSAGE_PREFIX}', $1::text)`, [origin]);
}
