import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { MappingInvalidError, SyncError, type MappingIssue } from './errors';
import { compileTranslator, loadTranslatorModule, type Document, type Translator } from './translate';

const tableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'must be a table name, optionally schema-qualified');
const columnName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a column name');
const fieldName = z.string().min(1);
/** Document field (the name in event payloads) -> column. */
const fieldsSchema = z.record(fieldName, columnName).refine((fields) => Object.keys(fields).length > 0, 'must map at least one field');

const joinedSchema = z.strictObject({
  table: tableName,
  /** The column of this table holding the aggregate's key. */
  key: columnName,
  fields: fieldsSchema,
  /** Many rows per aggregate: the document field holding them as an array of documents. Absent: one row. */
  as: fieldName.optional(),
  /** Many rows: a column that keeps the array order (written as the index, read in its order). */
  position: columnName.optional(),
});

const sideSchema = z.strictObject({
  table: tableName,
  /**
   * The side's tables are captured from the database's log (a table-capture relay or Debezium), not written with an
   * outbox: no version and no origin column; order is the source's commit order. Only `legacy` may be captured.
   */
  captured: z.boolean().default(false),
  /** Document field of the key (its column comes from `fields`). */
  key: fieldName,
  /** Document field of the version: an integer, higher is newer. Required unless the side is captured. */
  version: fieldName.optional(),
  /** Column recording which origin wrote the stored version (the conflict rule needs it on a tie). Not on a captured side. */
  origin: columnName.optional(),
  fields: fieldsSchema,
  joined: z.array(joinedSchema).default([]),
  /**
   * Document fields of the main table written when the sync creates a row and left as they are when it updates one
   * (a row's place in a tree, a creation stamp): what the application wrote stays.
   */
  insertOnly: z.array(fieldName).default([]),
  /**
   * An integer column of the main table that every update the sync writes increments, as the application's own
   * optimistic locking does (Rails' lock_version, JPA's @Version): an editor holding the earlier version gets the
   * application's stale-object error instead of overwriting the sync's write. A row the sync inserts takes the
   * column's default. Not a mapped field.
   */
  lockVersion: columnName.optional(),
});

const ruleSchema = z.union([
  fieldName,
  z.strictObject({
    from: fieldName.optional(),
    multiply: z.number().optional(),
    divide: z.number().refine((value) => value !== 0, 'must not be 0').optional(),
    map: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    value: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  }),
]);
export type TranslationRule = z.infer<typeof ruleSchema>;

const aggregateSchema = z.strictObject({
  /** Which side owns writes: `legacy`, `service` or another origin name; it wins a tie under `owner-wins`. */
  owner: z.string().min(1),
  /**
   * Two origins wrote the same version. `owner-wins`: the owner's write is kept on every side (then any service
   * over legacy, then the larger origin name). `dead-letter`: the event goes to the DLQ for an operator.
   */
  conflict: z.enum(['owner-wins', 'dead-letter']).default('owner-wins'),
  legacy: sideSchema,
  service: sideSchema,
  /** Service document field -> rule over the legacy document. A field without a rule copies the same-named field. */
  toService: z.record(fieldName, ruleSchema).default({}),
  toLegacy: z.record(fieldName, ruleSchema).default({}),
  /** A module (relative to the mapping file) exporting toService(doc) and/or toLegacy(doc); replaces the rules of that direction. */
  translators: z.string().min(1).optional(),
});

const mappingSchema = z.strictObject({
  /** The `origin` header each side writes into its outbox events. */
  origins: z.strictObject({ legacy: z.string().min(1).default('legacy'), service: z.string().min(1).default('service') }).prefault({}),
  /** Where a captured side's row changes are: topics `<topicPrefix>.<schema>.<table>` (Debezium's `topic.prefix`). */
  capture: z.strictObject({ topicPrefix: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a Kafka topic prefix (letters, digits, . _ -)') }).optional(),
  aggregates: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be an outbox aggregatetype'), aggregateSchema).refine((aggregates) => Object.keys(aggregates).length > 0, 'must declare at least one aggregate'),
});

export type SideName = 'legacy' | 'service';

export interface ColumnField {
  field: string;
  column: string;
}

export interface JoinedTable {
  table: string;
  keyColumn: string;
  fields: ColumnField[];
  /** Many rows: the document field of the array. */
  as?: string;
  positionColumn?: string;
}

/** How one side stores an aggregate: its main table, plus joined tables (one row, or many as an array field). */
export interface SideMapping {
  side: SideName;
  table: string;
  /** Captured from the database's log: no version and no origin column (then both are undefined). */
  captured: boolean;
  keyField: string;
  keyColumn: string;
  versionField: string | undefined;
  versionColumn: string | undefined;
  originColumn?: string;
  fields: ColumnField[];
  joined: JoinedTable[];
  /** Main-table columns the sync writes on insert only (`insertOnly`). */
  insertOnlyColumns: string[];
  /** Main-table column every update of the sync increments (`lockVersion`). */
  lockVersionColumn: string | undefined;
  /** Every document field: main, one-row joined, and the array fields of many-row joined tables. */
  documentFields: string[];
}

export interface AggregateMapping {
  aggregateType: string;
  ownerOrigin: string;
  conflict: 'owner-wins' | 'dead-letter';
  legacy: SideMapping;
  service: SideMapping;
  toService: Translator;
  toLegacy: Translator;
}

export interface Mapping {
  /** The file it came from, for messages. */
  source?: string;
  origins: { legacy: string; service: string };
  /** Present when a side is captured: the topic prefix of its row changes. */
  capture?: { topicPrefix: string };
  aggregates: Map<string, AggregateMapping>;
}

function compileSide(side: SideName, input: z.infer<typeof sideSchema>, at: string, issues: MappingIssue[]): SideMapping {
  const fields = Object.entries(input.fields).map(([field, column]) => ({ field, column }));
  const documentFields = fields.map(({ field }) => field);
  const joined: JoinedTable[] = input.joined.map((table, index) => {
    const joinedFields = Object.entries(table.fields).map(([field, column]) => ({ field, column }));
    if (table.position && !table.as) issues.push({ path: `${at}.joined.${index}.position`, message: 'only a many-row table (with `as`) has a position' });
    for (const name of table.as ? [table.as] : joinedFields.map(({ field }) => field)) {
      if (documentFields.includes(name)) issues.push({ path: `${at}.joined.${index}${table.as ? '.as' : `.fields.${name}`}`, message: `document field '${name}' is already mapped` });
      documentFields.push(name);
    }
    return { table: table.table, keyColumn: table.key, fields: joinedFields, as: table.as, positionColumn: table.position };
  });
  const column = (field: string, what: string) => {
    const found = fields.find((entry) => entry.field === field);
    if (!found) issues.push({ path: `${at}.${what}`, message: `'${field}' must be a field of the main table (${at}.fields)` });
    return found?.column ?? field;
  };
  if (input.captured) {
    if (side !== 'legacy') issues.push({ path: `${at}.captured`, message: 'only the legacy side can be captured for now (the service side keeps its version and outbox)' });
    if (input.version !== undefined) issues.push({ path: `${at}.version`, message: 'a captured side has no version: its changes are ordered by the source\'s commit order (remove it; a version column can still be an ordinary field)' });
    if (input.origin !== undefined) issues.push({ path: `${at}.origin`, message: 'a captured side has no origin column: the capture tags the sync\'s write-backs with their origin (remove it)' });
  } else if (input.version === undefined) {
    issues.push({ path: `${at}.version`, message: 'required: the document field of the version (only a captured side has none)' });
  }
  const versioned = !input.captured && input.version !== undefined;
  const insertOnlyColumns = input.insertOnly.map((field, index) => {
    if (field === input.key) issues.push({ path: `${at}.insertOnly.${index}`, message: `'${field}' is the key: it is never updated anyway` });
    return column(field, `insertOnly.${index}`);
  });
  if (input.lockVersion !== undefined && fields.some((entry) => entry.column === input.lockVersion)) {
    issues.push({ path: `${at}.lockVersion`, message: `column '${input.lockVersion}' is a mapped field: the sync would both write and increment it (remove it from ${at}.fields)` });
  }
  return {
    side,
    table: input.table,
    captured: input.captured,
    keyField: input.key,
    keyColumn: column(input.key, 'key'),
    versionField: versioned ? input.version : undefined,
    versionColumn: versioned ? column(input.version!, 'version') : undefined,
    originColumn: input.captured ? undefined : input.origin,
    fields,
    joined,
    documentFields,
    insertOnlyColumns,
    lockVersionColumn: input.lockVersion,
  };
}

function translatorFor(
  direction: 'toService' | 'toLegacy',
  rules: Record<string, TranslationRule>,
  from: SideMapping,
  to: SideMapping,
  custom: Partial<Record<'toService' | 'toLegacy', Translator>> | undefined,
  at: string,
  issues: MappingIssue[],
): Translator {
  for (const field of Object.keys(rules)) {
    if (!to.documentFields.includes(field)) issues.push({ path: `${at}.${direction}.${field}`, message: `'${field}' is not a ${to.side} field (${to.documentFields.join(', ')})` });
  }
  for (const [field, rule] of Object.entries(rules)) {
    const source = typeof rule === 'string' ? rule : rule.from;
    if (source !== undefined && !from.documentFields.includes(source)) {
      issues.push({ path: `${at}.${direction}.${field}${typeof rule === 'string' ? '' : '.from'}`, message: `'${source}' is not a ${from.side} field (${from.documentFields.join(', ')})` });
    }
    if (typeof rule !== 'string' && source === undefined && rule.value === undefined) issues.push({ path: `${at}.${direction}.${field}`, message: 'a rule needs `from` or `value`' });
  }
  const module = custom?.[direction];
  if (module) return module;
  // A captured source has no version: the sync sets the target's version, so it needs no source.
  const targetFields = from.captured ? to.documentFields.filter((field) => field !== to.versionField || field in rules) : to.documentFields;
  for (const field of targetFields) {
    if (!(field in rules) && !from.documentFields.includes(field)) {
      issues.push({ path: `${at}.${direction}`, message: `${to.side} field '${field}' has no source: no ${from.side} field of that name and no rule (or name a translators module)` });
    }
  }
  return compileTranslator(rules, targetFields);
}

/** Validates a mapping object; throws MappingInvalidError listing every problem with its path. */
export function parseMapping(input: unknown, options: { source?: string; baseDir?: string } = {}): Mapping {
  const result = mappingSchema.safeParse(input);
  const issues: MappingIssue[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) issues.push({ path: [...issue.path, key].map(String).join('.'), message: 'unknown key' });
      else issues.push({ path: issue.path.map(String).join('.'), message: issue.message });
    }
    throw new MappingInvalidError('SFG_SYNC_MAPPING_INVALID', issues, options.source);
  }
  const { origins, capture } = result.data;
  if (origins.legacy === origins.service) issues.push({ path: 'origins', message: 'the two sides need different origin names' });
  const captured = Object.entries(result.data.aggregates).filter(([, declared]) => declared.legacy.captured || declared.service.captured).map(([name]) => name);
  if (captured.length && !capture) {
    issues.push({ path: 'capture.topicPrefix', message: `required when a side is captured (${captured.join(', ')}): the capture relay's topic prefix (Debezium's topic.prefix), topics <prefix>.<schema>.<table>` });
  }
  const aggregates = new Map<string, AggregateMapping>();
  for (const [aggregateType, declared] of Object.entries(result.data.aggregates)) {
    const at = `aggregates.${aggregateType}`;
    const legacy = compileSide('legacy', declared.legacy, `${at}.legacy`, issues);
    const service = compileSide('service', declared.service, `${at}.service`, issues);
    let custom: Partial<Record<'toService' | 'toLegacy', Translator>> | undefined;
    if (declared.translators) {
      try {
        custom = loadTranslatorModule(path.resolve(options.baseDir ?? process.cwd(), declared.translators));
      } catch (error) {
        issues.push({ path: `${at}.translators`, message: (error as Error).message });
      }
    }
    aggregates.set(aggregateType, {
      aggregateType,
      ownerOrigin: declared.owner === 'legacy' || declared.owner === 'service' ? origins[declared.owner] : declared.owner,
      conflict: declared.conflict,
      legacy,
      service,
      toService: translatorFor('toService', declared.toService, legacy, service, custom, at, issues),
      toLegacy: translatorFor('toLegacy', declared.toLegacy, service, legacy, custom, at, issues),
    });
  }
  if (issues.length) throw new MappingInvalidError('SFG_SYNC_MAPPING_INVALID', issues, options.source);
  return { source: options.source, origins, ...(capture ? { capture } : {}), aggregates };
}

/** Reads and validates a YAML (or JSON) mapping file; a translators module is resolved against its directory. */
export function loadMappingFile(file: string): Mapping {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SyncError('SFG_SYNC_MAPPING_UNREADABLE', `cannot read mapping ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseMapping(raw, { source: file, baseDir: path.dirname(path.resolve(file)) });
}

/** The aggregates named on a command line (`all` or names); an unknown one lists the mapping's. */
export function selectAggregates(mapping: Mapping, names: string[]): AggregateMapping[] {
  if (names.length === 1 && names[0] === 'all') return [...mapping.aggregates.values()];
  return names.map((name) => {
    const found = mapping.aggregates.get(name);
    if (!found) throw new SyncError('SFG_SYNC_UNKNOWN_AGGREGATE', `no aggregate '${name}' in ${mapping.source ?? 'the mapping'} (declared: ${[...mapping.aggregates.keys()].join(', ')}, or all)`);
    return found;
  });
}

export type { Document };
