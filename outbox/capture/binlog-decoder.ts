import type { OutboxRow } from '../pipeline';
import { binlogEncoder, encodeBinlogValue, type BinlogEncoder, type BinlogEncodingOptions, type BinlogValue } from './binlog-envelope';
import type { BinlogCatalog } from './binlog-preflight';
import { CAPTURE_EVENT_NAMESPACE, DEBEZIUM_VERSION } from './decoder';
import { uuidV5 } from './event-id';
import { mysqlStatementOrigin } from './origin';

const NAMESPACE_BYTES = Buffer.from(CAPTURE_EVENT_NAMESPACE.replace(/-/g, ''), 'hex');

export interface BinlogEventIdInput {
  /** source.db and source.table */
  db: string;
  table: string;
  /** source.file, source.pos and source.row: where the change is in the binlog. */
  file: string;
  pos: number | string;
  row: number;
  /** c, u or d (a tombstone: "tombstone"). */
  op: string;
  /** The record's key as it is on Kafka (the key JSON, e.g. `{"id":42}`), or the key object. */
  key: string | Record<string, unknown>;
}

/**
 * The deterministic id of a change captured from a binlog: the same on a re-send after a crash, and derivable from
 * a record of Debezium's MySQL or MariaDB connector: UUID v5 over `db.table/file/pos/row/op/key`.
 */
export function binlogEventId({ db, table, file, pos, row, op, key }: BinlogEventIdInput): string {
  return uuidV5(NAMESPACE_BYTES, `${db}.${table}/${file}/${pos}/${row}/${op}/${typeof key === 'string' ? key : JSON.stringify(key)}`);
}

/** A column of a binlog table map as the reader describes it (information_schema's names). */
export interface BinlogColumnSchema {
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
}

/** A rows event, as far as the decoder reads it. */
export interface BinlogRowsEvent {
  /** writerows, updaterows or deleterows */
  kind: 'insert' | 'update' | 'delete';
  db: string;
  table: string;
  columns: BinlogColumnSchema[];
  /** Inserted or deleted rows; for an update, { before, after } pairs. */
  rows: Record<string, BinlogValue>[] | { before: Record<string, BinlogValue>; after: Record<string, BinlogValue> }[];
  /** The binlog file and the position where the event starts (source.file, source.pos). */
  file: string;
  pos: number;
}

/** Where a transaction began, as the stream told it. */
export interface BinlogTransactionStart {
  /** source.gtid (`uuid:n` on MySQL, `domain-server-seq` on MariaDB); null without GTIDs. */
  gtid: string | null;
  /** The event header's server id (source.server_id) */
  serverId: number;
  /** The event header's timestamp, ms (source.ts_ms) */
  timestampMs: number;
  /** The connection that wrote it, when the binlog says (source.thread) */
  thread: number | null;
}

export interface BinlogDecoderOptions extends BinlogEncodingOptions {
  topicPrefix: string;
  origin: string;
  tombstonesOnDelete: boolean;
}

interface TablePlan {
  db: string;
  table: string;
  /** `db.table` as topic suffix and metric label (characters Kafka refuses become '_') */
  aggregate: string;
  names: string[];
  prefixes: string[];
  encoders: BinlogEncoder[];
  keyNames: string[];
  keyPrefixes: string[];
  keyEncoders: BinlogEncoder[];
  /** `,"db":…,"sequence":null,` is built per transaction; this is `"table":…,` */
  sourceTable: string;
}

/** `decimal(10,2) unsigned` -> { dataType: decimal, scale: 2 }; `datetime(3)` -> fsp 3. */
function columnTypeOf(columnType: string): { dataType: string; columnType: string; scale: number | null; fsp: number | null } {
  const lower = columnType.toLowerCase();
  const dataType = /^[a-z0-9_]+/.exec(lower)?.[0] ?? lower;
  const args = /\(([^)]*)\)/.exec(lower)?.[1]?.split(',').map((part) => Number(part.trim())) ?? [];
  const temporal = dataType === 'datetime' || dataType === 'timestamp' || dataType === 'time';
  return {
    dataType,
    columnType,
    scale: dataType === 'decimal' || dataType === 'numeric' ? (args[1] ?? 0) : null,
    fsp: temporal ? (args[0] ?? 0) : null,
  };
}

/**
 * Turns the row events of a binlog transaction into Debezium's MySQL change events (outbox rows with ready Kafka
 * headers): `c` for an inserted row, `u` for an update, `d` (then a tombstone) for a delete; an update that changes
 * the primary key becomes a delete of the old key and a create of the new one, as Debezium emits it.
 */
export class BinlogDecoder {
  private readonly plans = new Map<string, TablePlan>();
  private rows: OutboxRow[] = [];
  private start: BinlogTransactionStart = { gtid: null, serverId: 0, timestampMs: 0, thread: null };
  /** `,"source":{"version":…,"db":` */
  private sourceHead = '';
  /** `,"sequence":null,"ts_us":…,"ts_ns":…,` */
  private sourceTimes = '';
  /** `"server_id":…,"gtid":…,"file":` */
  private sourceServer = '';
  private envelopeTimes = '';
  /** The origin a marked statement of the current transaction named (mysqlOriginComment), if any. */
  private marked: string | undefined;

  constructor(
    private readonly catalog: BinlogCatalog,
    private readonly options: BinlogDecoderOptions,
  ) {}

  /** Whether a table's changes are captured. */
  captures(db: string, table: string): boolean {
    return this.catalog.tables.has(`${db}.${table}`);
  }

  begin(start: BinlogTransactionStart): void {
    this.rows = [];
    this.marked = undefined;
    this.start = start;
    const now = Date.now();
    const ms = start.timestampMs;
    this.sourceHead =
      `,"source":{"version":"${DEBEZIUM_VERSION}","connector":"${this.catalog.flavour}","name":${JSON.stringify(this.options.topicPrefix)},` +
      `"ts_ms":${ms},"snapshot":"false","db":`;
    this.sourceServer = `"server_id":${start.serverId},"gtid":${start.gtid === null ? 'null' : JSON.stringify(start.gtid)},"file":`;
    this.envelopeTimes = `"ts_ms":${now},"ts_us":${now}000,"ts_ns":${now}000000}`;
    this.sourceTimes = `,"sequence":null,"ts_us":${ms}000,"ts_ns":${ms}000000,`;
  }

  /** The connection id of the transaction, once a BEGIN query event names it (MySQL). */
  thread(thread: number): void {
    this.start.thread = thread;
  }

  /**
   * A statement's text from the binlog (MariaDB's Annotate_rows, MySQL's Rows_query event): when it starts with an
   * origin marker, every change of the current transaction carries that origin (the last marker's, if several).
   */
  statement(text: string): void {
    const origin = mysqlStatementOrigin(text);
    if (origin !== undefined) this.marked = origin;
  }

  /** Decodes a rows event of the current transaction (events of tables not captured are ignored). */
  event(event: BinlogRowsEvent): void {
    const plan = this.planOf(event);
    if (!plan) return;
    const thread = this.start.thread === null ? 'null' : String(this.start.thread);
    const source = (row: number) =>
      `${this.sourceHead}${plan.sourceTable}${this.sourceTimes}"table":${JSON.stringify(plan.table)},${this.sourceServer}` +
      `${JSON.stringify(event.file)},"pos":${event.pos},"row":${row},"thread":${thread},"query":null}`;
    const position = { file: event.file, pos: event.pos };
    if (event.kind === 'update') {
      const pairs = event.rows as { before: Record<string, BinlogValue>; after: Record<string, BinlogValue> }[];
      for (let row = 0; row < pairs.length; row += 1) {
        const { before, after } = pairs[row]!;
        const key = keyJson(plan, after);
        const oldKey = keyJson(plan, before);
        const src = source(row);
        if (oldKey === key) {
          this.push(plan, 'u', position, row, key, rowJson(plan, before), rowJson(plan, after), src);
          continue;
        }
        this.push(plan, 'd', position, row, oldKey, rowJson(plan, before), 'null', src, '__debezium.newkey', key);
        if (this.options.tombstonesOnDelete) this.tombstone(plan, position, row, oldKey, key);
        this.push(plan, 'c', position, row, key, 'null', rowJson(plan, after), src, '__debezium.oldkey', oldKey);
      }
      return;
    }
    const images = event.rows as Record<string, BinlogValue>[];
    for (let row = 0; row < images.length; row += 1) {
      const image = images[row]!;
      const key = keyJson(plan, image);
      if (event.kind === 'insert') {
        this.push(plan, 'c', position, row, key, 'null', rowJson(plan, image), source(row));
      } else {
        this.push(plan, 'd', position, row, key, rowJson(plan, image), 'null', source(row));
        if (this.options.tombstonesOnDelete) this.tombstone(plan, position, row, key);
      }
    }
  }

  /** The transaction's records, ready to publish (none: nothing captured in it). */
  commit(): OutboxRow[] {
    const rows = this.rows;
    if (this.marked !== undefined && this.marked !== this.options.origin) {
      for (const row of rows) row.kafkaHeaders!.origin = this.marked;
    }
    this.rows = [];
    this.marked = undefined;
    return rows;
  }

  reset(): void {
    this.rows = [];
    this.marked = undefined;
  }

  private push(
    plan: TablePlan,
    op: 'c' | 'u' | 'd',
    position: { file: string; pos: number },
    row: number,
    key: string,
    before: string,
    after: string,
    source: string,
    keyHeader?: string,
    otherKey?: string,
  ): void {
    const id = binlogEventId({ db: plan.db, table: plan.table, file: position.file, pos: position.pos, row, op, key });
    const kafkaHeaders: Record<string, string> = { id, type: op, origin: this.options.origin, file: position.file, pos: String(position.pos) };
    if (this.start.gtid !== null) kafkaHeaders.gtid = this.start.gtid;
    if (keyHeader) kafkaHeaders[keyHeader] = otherKey!;
    const payload = `{"before":${before},"after":${after}${source},"transaction":null,"op":"${op}",${this.envelopeTimes}`;
    this.rows.push({ id, aggregatetype: plan.aggregate, aggregateid: key, type: op, payload, headers: null, kafkaHeaders });
  }

  private tombstone(plan: TablePlan, position: { file: string; pos: number }, row: number, key: string, newKey?: string): void {
    const id = binlogEventId({ db: plan.db, table: plan.table, file: position.file, pos: position.pos, row, op: 'tombstone', key });
    const kafkaHeaders: Record<string, string> = { id, origin: this.options.origin, file: position.file, pos: String(position.pos) };
    if (this.start.gtid !== null) kafkaHeaders.gtid = this.start.gtid;
    if (newKey !== undefined) kafkaHeaders['__debezium.newkey'] = newKey;
    this.rows.push({ id, aggregatetype: plan.aggregate, aggregateid: key, type: 'tombstone', payload: null, headers: null, kafkaHeaders });
  }

  /** The table's encoders, compiled from the table map's columns (again whenever they change: an ALTER TABLE). */
  private planOf(event: BinlogRowsEvent): TablePlan | undefined {
    const name = `${event.db}.${event.table}`;
    const table = this.catalog.tables.get(name);
    if (!table) return undefined;
    const signature = event.columns.map((column) => `${column.COLUMN_NAME} ${column.COLUMN_TYPE}`).join(',');
    const cached = this.plans.get(name);
    if (cached && (cached as TablePlan & { signature?: string }).signature === signature) return cached;
    const names = event.columns.map((column) => column.COLUMN_NAME);
    const encoders = event.columns.map((column) => binlogEncoder(columnTypeOf(column.COLUMN_TYPE), this.options));
    const plan: TablePlan & { signature: string } = {
      signature,
      db: event.db,
      table: event.table,
      aggregate: name.replace(/[^a-zA-Z0-9._-]/g, '_'),
      names,
      prefixes: names.map((column, index) => `${index === 0 ? '{' : ','}${JSON.stringify(column)}:`),
      encoders,
      keyNames: table.primaryKey,
      keyPrefixes: table.primaryKey.map((column, index) => `${index === 0 ? '{' : ','}${JSON.stringify(column)}:`),
      keyEncoders: table.primaryKey.map((column) => encoders[names.indexOf(column)] ?? ((value) => JSON.stringify(String(value)))),
      sourceTable: `${JSON.stringify(event.db)}`,
    };
    this.plans.set(name, plan);
    return plan;
  }
}

function rowJson(plan: TablePlan, image: Record<string, BinlogValue>): string {
  const { names, prefixes, encoders } = plan;
  let out = '';
  for (let index = 0; index < names.length; index += 1) out += prefixes[index]! + encodeBinlogValue(encoders[index]!, image[names[index]!]);
  return `${out}}`;
}

function keyJson(plan: TablePlan, image: Record<string, BinlogValue>): string {
  const { keyNames, keyPrefixes, keyEncoders } = plan;
  let out = '';
  for (let index = 0; index < keyNames.length; index += 1) out += keyPrefixes[index]! + encodeBinlogValue(keyEncoders[index]!, image[keyNames[index]!]);
  return `${out}}`;
}
