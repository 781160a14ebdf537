import type pg from 'pg';
import type { Logger } from 'pino';
import { SlotMissingError } from '../errors';
import { existingSlot } from '../slot-stream';
import { qualifiedName, quoteName, type CaptureCatalog, type Queryable } from './preflight';

/** The recovery command a lost or vanished capture slot names. */
export const CAPTURE_RESET_COMMAND = 'strangler relay --mode tables --reset-slot';

/**
 * The publication's COMMENT remembers that the relay created its slot (the capture adds no table to the database):
 * one line per slot, so a slot that vanished later is refused rather than silently recreated past lost changes.
 */
const markerPattern = (slotName: string) => new RegExp(`^strangler-fig: replication slot "${slotName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" created .*$`, 'm');

export function remembersSlot(comment: string | null, slotName: string): boolean {
  return comment !== null && markerPattern(slotName).test(comment);
}

function withMarker(comment: string | null, slotName: string): string {
  const line = `strangler-fig: replication slot "${slotName}" created ${new Date().toISOString()}`;
  return comment ? `${comment}\n${line}` : line;
}

function withoutMarker(comment: string | null, slotName: string): string | null {
  if (comment === null) return null;
  const rest = comment.replace(markerPattern(slotName), '').replace(/\n{2,}/g, '\n').trim();
  return rest === '' ? null : rest;
}

async function setComment(db: Queryable, publicationName: string, comment: string | null): Promise<void> {
  const literal = comment === null ? 'null' : `'${comment.replace(/'/g, "''")}'`;
  await db.query(`comment on publication ${quoteName(publicationName)} is ${literal}`);
}

/**
 * Creates the publication (or adds the configured tables it lacks) and the slot; refuses a slot that is lost, of
 * another database or plugin, or that vanished after this relay created it. Returns the slot's confirmed position.
 */
export async function prepareCaptureSlot(
  client: pg.Client,
  catalog: CaptureCatalog,
  options: { slotName: string; publicationName: string },
  logger: Logger,
): Promise<string> {
  const { slotName, publicationName } = options;
  const publication = quoteName(publicationName);
  const tables = [...catalog.tables.values()];
  if (!catalog.publication.exists) {
    const viaRoot = catalog.partitioned ? ' with (publish_via_partition_root = true)' : '';
    await client.query(`create publication ${publication} for table ${tables.map(qualifiedName).join(', ')}${viaRoot}`);
    logger.info({ publication: publicationName, tables: tables.map((table) => table.qualifiedName) }, 'publication created');
  } else if (catalog.publication.missing.length > 0) {
    await client.query(`alter publication ${publication} add table ${catalog.publication.missing.map(qualifiedName).join(', ')}`);
    logger.info({ publication: publicationName, added: catalog.publication.missing.map(qualifiedName) }, 'tables added to the publication');
  }
  const slot = await existingSlot(client, slotName, CAPTURE_RESET_COMMAND);
  if (slot) return slot.confirmed;
  const comment = catalog.publication.exists ? catalog.publication.comment : null;
  if (remembersSlot(comment, slotName)) throw new SlotMissingError(slotName, CAPTURE_RESET_COMMAND);
  const created = await client.query<{ lsn: string }>(`select lsn::text from pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
  if (catalog.publication.owned) {
    await setComment(client, publicationName, withMarker(comment, slotName));
  } else {
    logger.warn(
      { publication: publicationName, slot: slotName },
      `this role does not own publication "${publicationName}", so it cannot record that it created slot "${slotName}": a slot dropped later ` +
        'would be recreated without notice. Have the owner run: ' +
        `COMMENT ON PUBLICATION ${publication} IS '${withMarker(comment, slotName).replace(/'/g, "''")}'`,
    );
  }
  logger.info({ slot: slotName }, 'replication slot created');
  return created.rows[0]?.lsn ?? '0/0';
}

/** For the slot reset: drops the publication comment's record of the slot. Whether there was one. */
export async function forgetCaptureSlot(db: Queryable, publicationName: string, slotName: string): Promise<boolean> {
  const [publication] = (
    await db.query<{ comment: string | null }>(`select obj_description(oid, 'pg_publication') as comment from pg_publication where pubname = $1`, [publicationName])
  ).rows;
  if (!publication || !remembersSlot(publication.comment, slotName)) return false;
  await setComment(db, publicationName, withoutMarker(publication.comment, slotName));
  return true;
}
