import { z } from 'zod';
import { NotFoundError } from './errors';

const uuid = z.uuid();

/** A path id that is not a UUID cannot name anything we stored: answer 404 like any unknown id. */
export function pathId(what: string, value: unknown): string {
  const text = String(value);
  if (!uuid.safeParse(text).success) throw new NotFoundError(what, text);
  return text;
}
