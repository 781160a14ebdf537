import { OutboxError } from './errors';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Quotes a schema/table/slot name after checking it is a plain identifier (these come from configuration). */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new OutboxError('SFG_OUTBOX_INVALID_IDENTIFIER', `"${name}" is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_$]*, ≤ 63)`);
  }
  return `"${name}"`;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

export const IDENTIFIER_PATTERN = IDENTIFIER;
