import { SyncError } from './errors';
import type { TranslationRule } from './options';

/** An aggregate as one side sees it: field -> value (arrays for many-row tables). */
export type Document = Record<string, unknown>;
export type Translator = (document: Document) => Document;

/** A value no rule can translate (an unmapped status, a non-number to scale): the event goes to the DLQ. */
export class UntranslatableError extends SyncError {
  constructor(message: string) {
    super('SFG_SYNC_UNTRANSLATABLE', message);
  }
}

/** Removes the binary noise of a decimal scale: 12.34 * 100 is 1234.0000000000002 in floating point. */
function scaled(value: number): number {
  return Number(value.toPrecision(15));
}

function asNumber(value: unknown, field: string): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (Number.isNaN(number)) throw new UntranslatableError(`'${field}' is ${JSON.stringify(value)}, not a number`);
  return number;
}

function compileRule(target: string, rule: TranslationRule | undefined): (document: Document) => unknown {
  if (rule === undefined) return (document) => document[target];
  if (typeof rule === 'string') return (document) => document[rule];
  const { from, multiply, divide, map, value } = rule;
  if (from === undefined) return () => value;
  return (document) => {
    let result = document[from];
    if (result === null || result === undefined) return value ?? null;
    if (map) {
      const key = String(result);
      if (!(key in map)) throw new UntranslatableError(`'${from}' value ${JSON.stringify(result)} has no entry in the map for '${target}' (${Object.keys(map).join(', ')})`);
      result = map[key];
    }
    if (multiply !== undefined) result = scaled(asNumber(result, from) * multiply);
    if (divide !== undefined) result = scaled(asNumber(result, from) / divide);
    return result;
  };
}

/** One function per target field, built once: the per-event work is a loop over them. */
export function compileTranslator(rules: Record<string, TranslationRule>, targetFields: string[]): Translator {
  const steps = targetFields.map((field) => ({ field, run: compileRule(field, rules[field]) }));
  return (document) => {
    const translated: Document = {};
    for (const { field, run } of steps) translated[field] = run(document);
    return translated;
  };
}

/** A translators module: `toService(doc)` and/or `toLegacy(doc)`, as CommonJS or ES module exports. */
export function loadTranslatorModule(file: string): Partial<Record<'toService' | 'toLegacy', Translator>> {
  let loaded: Record<string, unknown>;
  try {
    // Synchronous on purpose: the mapping is validated, translators included, in one call that reports every problem.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as Record<string, unknown>;
  } catch (error) {
    const hint = file.endsWith('.ts') ? ' (a .ts module needs tsx, or Node 22.18+ type stripping; a .js module always loads)' : '';
    throw new Error(`cannot load translators module ${file}: ${(error as Error).message}${hint}`, { cause: error });
  }
  const exports = (loaded.default && typeof loaded.default === 'object' ? loaded.default : loaded) as Record<string, unknown>;
  const found: Partial<Record<'toService' | 'toLegacy', Translator>> = {};
  for (const name of ['toService', 'toLegacy'] as const) {
    if (exports[name] === undefined) continue;
    if (typeof exports[name] !== 'function') throw new Error(`translators module ${file}: '${name}' must be a function`);
    found[name] = exports[name] as Translator;
  }
  if (!found.toService && !found.toLegacy) throw new Error(`translators module ${file} exports neither toService nor toLegacy`);
  return found;
}
