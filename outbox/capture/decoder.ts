import type { Logger } from 'pino';
import type { Pgoutput } from 'pg-logical-replication';
import type { OutboxRow } from '../pipeline';
import type { TransactionDecoder } from '../slot-stream';
import { columnCodec, type EncodingOptions } from './envelope';
import { uuidV5 } from './event-id';
import type { CaptureCatalog } from './preflight';

/** Prefix of the transactional logical decoding message that names the origin of a transaction (markOrigin). */
export const ORIGIN_MESSAGE_PREFIX = 'strangler.origin';

/** The Debezium release whose Postgres connector's records these follow: `source.version`. */
export const DEBEZIUM_VERSION = '3.6.1.Final';

/** Namespace of the captured changes' ids (UUID v5). */
export const CAPTURE_EVENT_NAMESPACE = '6f1c3a52-8d0e-5b7a-9c41-2e5d7b9a0f13';
const NAMESPACE_BYTES = Buffer.from(CAPTURE_EVENT_NAMESPACE.replace(/-/g, ''), 'hex');

/** "16/B374D848" -> "96431806536" (Debezium's numeric LSN); exact below 2^53, i.e. 8 PiB of WAL. */
export function lsnDecimal(lsn: string): string {
  const slash = lsn.indexOf('/');
  return String(parseInt(lsn.slice(0, slash), 16) * 4294967296 + parseInt(lsn.slice(slash + 1), 16));
}

function uuidOf(name: string): string {
  return uuidV5(NAMESPACE_BYTES, name);
}

export interface CaptureEventIdInput {
  /** source.db */
  db: string;
  /** The change's LSN: Debezium's numeric source.lsn, or Postgres' text form ("16/B374D848"). */
  lsn: number | bigint | string;
  /** source.schema and source.table */
  schema: string;
  table: string;
  /** c, u or d (a tombstone: "tombstone"). */
  op: string;
  /** The record's key as it is on Kafka (the key JSON, e.g. `{"id":42}`), or the key object. */
  key: string | Record<string, unknown>;
}

/**
 * The deterministic id of a captured change: the same on a re-send after a crash, and derivable from a Debezium
 * record too (which carries no id header): UUID v5 over `db/lsn/schema.table/op/key` with the LSN in decimal.
 */
export function captureEventId({ db, lsn, schema, table, op, key }: CaptureEventIdInput): string {
  const position = typeof lsn === 'string' && lsn.includes('/') ? lsnDecimal(lsn) : String(lsn);
  return uuidOf(`${db}/${position}/${schema}.${table}/${op}/${typeof key === 'string' ? key : JSON.stringify(key)}`);
}

/** How one relation's rows become JSON, compiled when its relation message arrives. */
interface RelationPlan {
  captured: boolean;
  schema: string;
  table: string;
  /** `schema.table` as a topic suffix and metric label (characters Kafka refuses become '_', as Debezium does). */
  aggregate: string;
  names: string[];
  /** `{"name":` for the first column, `,"name":` for the others. */
  prefixes: string[];
  unavailable: string[];
  keyNames: string[];
  keyPrefixes: string[];
  keyUnavailable: string[];
  /** `,"schema":…,"table":…,"txId":` */
  sourceTable: string;
  /** `schema.table/` of the id's name. */
  idTable: string;
}

type Tuple = Record<string, string | null | undefined>;

const SOURCE_TAIL = ',"xmin":null';
const AFTER_ORIGIN = '},"transaction":null,"op":"';

export interface ChangeDecoderOptions extends EncodingOptions {
  topicPrefix: string;
  origin: string;
  tombstonesOnDelete: boolean;
  /** The slot's confirmed position at start: the last commit Debezium's source.sequence names first. */
  lastCommitLsn: string;
  onTruncate(table: string): void;
  logger: Logger;
}

const decodeText = new TextDecoder();

/**
 * Turns the row changes of each transaction into Debezium change events (outbox rows with ready Kafka headers):
 * `c` for an insert, `u` for an update, `d` (then a tombstone) for a delete; an update that changes the primary key
 * becomes a delete of the old key and a create of the new one, as Debezium emits it.
 */
export class ChangeDecoder implements TransactionDecoder {
  private readonly plans = new Map<number, RelationPlan>();
  private rows: OutboxRow[] = [];
  private active = false;
  private marked: string | undefined;
  private lastCommit: string;
  private xid = '';
  private commitLsn = '';
  /** `,"source":{…,"sequence":"[\"<last commit>\",\"` */
  private sourceHead = '';
  /** `\"]","ts_us":…,"ts_ns":…` */
  private sourceTimes = '';
  /** `,"origin":…,"origin_lsn":…` (a replication origin, when the transaction was applied by a subscriber) */
  private replicationOrigin = ',"origin":null,"origin_lsn":null';
  /** `","ts_ms":…,"ts_us":…,"ts_ns":…}` */
  private envelopeTimes = '';

  constructor(
    private readonly catalog: CaptureCatalog,
    private readonly options: ChangeDecoderOptions,
  ) {
    this.lastCommit = options.lastCommitLsn === '0/0' ? 'null' : `\\"${lsnDecimal(options.lastCommitLsn)}\\"`;
  }

  begin(message: Pgoutput.MessageBegin): void {
    const { options } = this;
    this.active = true;
    this.rows = [];
    this.marked = undefined;
    this.xid = String(message.xid >>> 0);
    this.commitLsn = message.commitLsn ? message.commitLsn.replace(/^0+(?=[0-9A-F]+\/)/, '').replace(/\/0+(?=[0-9A-F])/, '/') : '';
    const commitMicros = (message.commitTime as bigint).toString();
    const now = Date.now();
    this.sourceHead =
      `,"source":{"version":"${DEBEZIUM_VERSION}","connector":"postgresql","name":${JSON.stringify(options.topicPrefix)},` +
      `"ts_ms":${commitMicros.slice(0, -3)},"snapshot":"false","db":${JSON.stringify(this.catalog.database)},"sequence":"[${this.lastCommit},\\"`;
    this.sourceTimes = `\\"]","ts_us":${commitMicros},"ts_ns":${commitMicros}000`;
    this.replicationOrigin = ',"origin":null,"origin_lsn":null';
    this.envelopeTimes = `","ts_ms":${now},"ts_us":${now}000,"ts_ns":${now}000000}`;
  }

  message(message: Pgoutput.Message, lsn: string): void {
    switch (message.tag) {
      case 'relation':
        this.plans.set(message.relationOid, this.compile(message));
        return;
      case 'insert': {
        const plan = this.plans.get(message.relation.relationOid);
        if (!plan?.captured || !this.active) return;
        const after = message.new as Tuple;
        this.push(plan, 'c', lsn, keyJson(plan, after), 'null', rowJson(plan, after));
        return;
      }
      case 'update': {
        const plan = this.plans.get(message.relation.relationOid);
        if (!plan?.captured || !this.active) return;
        const after = message.new as Tuple;
        const key = keyJson(plan, after);
        const old = (message.old ?? message.key) as Tuple | null;
        const before = old === null ? 'null' : message.old ? rowJson(plan, old) : keyRowJson(plan, old);
        const oldKey = old === null ? key : keyJson(plan, old);
        if (oldKey === key) {
          this.push(plan, 'u', lsn, key, before, rowJson(plan, after));
          return;
        }
        // The primary key changed: Debezium emits a delete of the old key (and its tombstone, both naming the new key)
        // and a create of the new.
        this.push(plan, 'd', lsn, oldKey, before, 'null', '__debezium.newkey', key);
        if (this.options.tombstonesOnDelete) this.tombstone(plan, lsn, oldKey, key);
        this.push(plan, 'c', lsn, key, 'null', rowJson(plan, after), '__debezium.oldkey', oldKey);
        return;
      }
      case 'delete': {
        const plan = this.plans.get(message.relation.relationOid);
        if (!plan?.captured || !this.active) return;
        const old = (message.old ?? message.key) as Tuple;
        const key = keyJson(plan, old);
        this.push(plan, 'd', lsn, key, message.old ? rowJson(plan, old) : keyRowJson(plan, old), 'null');
        if (this.options.tombstonesOnDelete) this.tombstone(plan, lsn, key);
        return;
      }
      case 'message':
        if (message.transactional && message.prefix === ORIGIN_MESSAGE_PREFIX) this.marked = decodeText.decode(message.content);
        return;
      case 'origin':
        this.replicationOrigin = `,"origin":${JSON.stringify(message.originName)},"origin_lsn":${message.originLsn ? lsnDecimal(message.originLsn) : 'null'}`;
        return;
      case 'truncate':
        for (const relation of message.relations) {
          const plan = this.plans.get(relation.relationOid);
          if (plan?.captured) this.options.onTruncate(`${plan.schema}.${plan.table}`);
        }
        return;
      default:
        return;
    }
  }

  commit(_message: Pgoutput.MessageCommit, lsn: string): OutboxRow[] {
    const rows = this.rows;
    if (this.marked !== undefined && this.marked !== this.options.origin) {
      for (const row of rows) row.kafkaHeaders!.origin = this.marked;
    }
    this.rows = [];
    this.active = false;
    this.lastCommit = `\\"${lsnDecimal(lsn)}\\"`;
    return rows;
  }

  reset(): void {
    this.rows = [];
    this.active = false;
  }

  private push(plan: RelationPlan, op: 'c' | 'u' | 'd', lsn: string, key: string, before: string, after: string, keyHeader?: string, otherKey?: string): void {
    const position = lsnDecimal(lsn);
    const id = uuidOf(`${this.catalog.database}/${position}/${plan.idTable}${op}/${key}`);
    const kafkaHeaders: Record<string, string> = {
      id,
      type: op,
      origin: this.marked ?? this.options.origin,
      txid: this.xid,
      lsn,
      commit_lsn: this.commitLsn,
    };
    if (keyHeader) kafkaHeaders[keyHeader] = otherKey!;
    const payload =
      `{"before":${before},"after":${after}${this.sourceHead}${position}${this.sourceTimes}${plan.sourceTable}${this.xid}` +
      `,"lsn":${position}${SOURCE_TAIL}${this.replicationOrigin}${AFTER_ORIGIN}${op}${this.envelopeTimes}`;
    this.rows.push({ id, aggregatetype: plan.aggregate, aggregateid: key, type: op, payload, headers: null, kafkaHeaders });
  }

  private tombstone(plan: RelationPlan, lsn: string, key: string, newKey?: string): void {
    const id = uuidOf(`${this.catalog.database}/${lsnDecimal(lsn)}/${plan.idTable}tombstone/${key}`);
    const kafkaHeaders: Record<string, string> = { id, origin: this.marked ?? this.options.origin, txid: this.xid, lsn, commit_lsn: this.commitLsn };
    if (newKey !== undefined) kafkaHeaders['__debezium.newkey'] = newKey;
    this.rows.push({ id, aggregatetype: plan.aggregate, aggregateid: key, type: 'tombstone', payload: null, headers: null, kafkaHeaders });
  }

  /** The relation's encoders and JSON fragments; its columns' parsers become the encoders (pgoutput text -> JSON text). */
  private compile(relation: Pgoutput.MessageRelation): RelationPlan {
    const name = `${relation.schema}.${relation.name}`;
    const table = this.catalog.tables.get(name);
    const names = relation.columns.map((column) => column.name);
    const plan: RelationPlan = {
      captured: table !== undefined,
      schema: relation.schema,
      table: relation.name,
      aggregate: name.replace(/[^a-zA-Z0-9._-]/g, '_'),
      names,
      prefixes: names.map((column, index) => `${index === 0 ? '{' : ','}${JSON.stringify(column)}:`),
      unavailable: [],
      keyNames: table?.primaryKey ?? [],
      keyPrefixes: (table?.primaryKey ?? []).map((column, index) => `${index === 0 ? '{' : ','}${JSON.stringify(column)}:`),
      keyUnavailable: [],
      sourceTable: `,"schema":${JSON.stringify(relation.schema)},"table":${JSON.stringify(relation.name)},"txId":`,
      idTable: `${name}/`,
    };
    for (const column of relation.columns) {
      if (!table) {
        column.parser = keepText;
        continue;
      }
      const type = table.columns.get(column.name) ?? { oid: column.typeOid, typeMod: column.typeMod };
      const codec = columnCodec(type, this.options);
      column.parser = codec.encode;
      plan.unavailable.push(codec.unavailable);
    }
    if (table) {
      const missing = plan.keyNames.filter((column) => !names.includes(column));
      if (missing.length > 0) {
        this.options.logger.warn({ table: name, missing }, 'primary key columns are gone from the relation; restart the relay to read the new key');
        plan.captured = false;
      }
      plan.keyUnavailable = plan.keyNames.map((column) => plan.unavailable[names.indexOf(column)]!);
    }
    return plan;
  }
}

const keepText = (raw: unknown) => raw;

function rowJson(plan: RelationPlan, tuple: Tuple): string {
  const { names, prefixes, unavailable } = plan;
  let out = '';
  for (let index = 0; index < names.length; index += 1) {
    const value = tuple[names[index]!];
    out += prefixes[index]! + (value === null ? 'null' : value === undefined ? unavailable[index]! : value);
  }
  return `${out}}`;
}

/** A before image from a replica identity key: the key's columns, every other column null. */
function keyRowJson(plan: RelationPlan, tuple: Tuple): string {
  const { names, prefixes } = plan;
  let out = '';
  for (let index = 0; index < names.length; index += 1) {
    const value = tuple[names[index]!];
    out += prefixes[index]! + (value == null ? 'null' : value);
  }
  return `${out}}`;
}

function keyJson(plan: RelationPlan, tuple: Tuple): string {
  const { keyNames, keyPrefixes, keyUnavailable } = plan;
  let out = '';
  for (let index = 0; index < keyNames.length; index += 1) {
    const value = tuple[keyNames[index]!];
    out += keyPrefixes[index]! + (value === null ? 'null' : value === undefined ? keyUnavailable[index]! : value);
  }
  return `${out}}`;
}
