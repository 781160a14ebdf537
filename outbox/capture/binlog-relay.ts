import ZongJi from '@vlasky/zongji';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { OutboxError } from '../errors';
import type { LeaderSession, LockConnection, RelayDeps } from '../leadership';
import { LeaderElectedRelay } from '../leadership';
import type { RelayOptions } from '../options';
import { PublishPipeline } from '../pipeline';
import { BinlogDecoder, type BinlogColumnSchema } from './binlog-decoder';
import type { BinlogValue } from './binlog-envelope';
import { KafkaPositionStore, type BinlogPosition } from './binlog-position';
import { binlogPreflight, type BinlogCatalog } from './binlog-preflight';
import { createCaptureMetrics, type CaptureMetrics } from './metrics';
import type { CaptureOptions } from './options';

/** What `strangler relay --mode tables --forget-position` prints and the purged-binlog error names. */
export const BINLOG_RESET_COMMAND = 'strangler relay --mode tables --forget-position';

/** How often the last Kafka-acknowledged position is written to the position topic (a restart re-sends at most this much). */
const POSITION_FLUSH_MS = 200;

/** A binlog event as the reader emits it (the fields the relay reads). */
interface ReaderEvent {
  getTypeName(): string;
  nextPosition: number;
  size: number;
  timestamp: number;
  gtid?: string;
  serverId?: number;
  query?: string;
  /** The statement text of an AnnotateRows (MariaDB) or RowsQuery (MySQL) event */
  statement?: string;
  slaveProxyId?: number;
  tableId?: number;
  rows?: unknown[];
  tableMap?: Record<number, { parentSchema: string; tableName: string; columnSchemas: BinlogColumnSchema[] }>;
}

/** The reader's part this relay uses (@vlasky/zongji). */
interface Reader {
  on(event: 'binlog', listener: (event: ReaderEvent) => void): unknown;
  on(event: 'error' | 'ready' | 'stopped', listener: (error?: Error) => void): unknown;
  start(options: Record<string, unknown>): void;
  stop(): void;
  options: { filename?: string; position?: number };
  useChecksum: boolean;
  connection: { pause(): void; resume(): void } | null;
}

/** `mysql://user:pass@host:port/db` -> mysql2's options. */
function connectionOptions(url: string): mysql.ConnectionOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || undefined,
    connectTimeout: 10_000,
  };
}

/** Whether a connection string names a MySQL or MariaDB server (what createRelay captures from its binlog). */
export function isMysqlUrl(url: string): boolean {
  return /^(mysql|mariadb):\/\//i.test(url);
}

/** `db.table`, or `table` in the connection string's database. */
export function binlogTableName(name: string, url: string): { db: string; table: string } {
  const dot = name.indexOf('.');
  if (dot >= 0) return { db: name.slice(0, dot), table: name.slice(dot + 1) };
  const db = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!db) throw new OutboxError('SFG_CAPTURE_OPTIONS', `table "${name}" names no database: write it as db.table, or name the database in the connection string`);
  return { db, table: name };
}

/** Leadership on MySQL/MariaDB: GET_LOCK on a dedicated connection (at most 64 characters: longer keys are hashed). */
function mysqlLockConnection(url: string): LockConnection<mysql.Connection> {
  let connection: mysql.Connection | undefined;
  return {
    get client() {
      return connection!;
    },
    async connect(lost) {
      connection = await mysql.createConnection(connectionOptions(url));
      connection.on('error', (error: Error) => lost(error));
      connection.on('end', () => lost(new OutboxError('SFG_OUTBOX_LEADER_CONNECTION_LOST', 'leadership connection closed', { retriable: true })));
    },
    async tryLock(key) {
      const name = key.length <= 64 ? key : `strangler-relay:${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
      const [rows] = await connection!.query<mysql.RowDataPacket[]>('select get_lock(?, 0) as locked', [name]);
      return Number(rows[0]?.locked) === 1;
    },
    async end() {
      await connection?.end().catch(() => connection?.destroy());
    },
  };
}

/** A stable replica server id for the relay's binlog connection (must differ from every server's and other readers'). */
function replicaServerId(name: string): number {
  return 0x5f000000 + (createHash('sha256').update(name).digest().readUInt32BE(0) % 0x00ffffff);
}

/**
 * Captures the row changes of MySQL or MariaDB tables from the server's binlog (`mode: 'tables'` with a `mysql://`
 * connection string) and publishes them as Debezium's MySQL connector (MariaDB connector on MariaDB) would: topic
 * `<topicPrefix>.<db>.<table>`, key the primary key's JSON, value the change-event envelope, a tombstone after a
 * delete. Nothing is added to the database: the relay reads the binlog as a replica would, takes leadership with
 * GET_LOCK, and keeps its position (past the last transaction Kafka acknowledged) in a compacted Kafka topic.
 * Leadership, backpressure, retries and the DLQ are those of the other relays.
 */
export class BinlogCaptureRelay extends LeaderElectedRelay<mysql.Connection> {
  private readonly capture: CaptureOptions;
  private readonly captureMetrics: CaptureMetrics;
  private readonly tables: { db: string; table: string }[];
  readonly positions: KafkaPositionStore;

  constructor(options: RelayOptions, deps: RelayDeps) {
    super(options, deps);
    if (options.mode !== 'tables' || !options.capture) {
      throw new OutboxError('SFG_CAPTURE_OPTIONS', "BinlogCaptureRelay needs relay options with mode 'tables' and capture (parseRelayOptions)");
    }
    this.capture = options.capture;
    this.captureMetrics = createCaptureMetrics(deps.registry, options.name);
    this.tables = options.capture.tables.map((name) => binlogTableName(name, options.connectionString));
    this.positions = new KafkaPositionStore({
      brokers: options.kafka.brokers,
      clientId: `${options.kafka.clientId}-position`,
      connectionTimeoutMs: options.kafka.connectionTimeoutMs,
      topic: options.capture.positionTopic,
      key: options.slotName,
    });
  }

  protected override createLockConnection(): LockConnection<mysql.Connection> {
    return mysqlLockConnection(this.options.connectionString);
  }

  /** Checks the server first (every problem at once, CapturePreflightError), so a standby refuses a bad setup too. */
  override async start(): Promise<void> {
    const connection = await mysql.createConnection(connectionOptions(this.options.connectionString));
    try {
      const catalog = await binlogPreflight(connection, this.tables);
      for (const warning of catalog.warnings) this.logger.warn({ code: warning.code }, warning.message);
    } finally {
      await connection.end().catch(() => undefined);
    }
    await this.positions.ensureTopic();
    await super.start();
  }

  /** Forgets the saved position: the next start begins at the end of the binlog (after a purged position, say). */
  async forgetPosition(): Promise<void> {
    await this.positions.ensureTopic();
    await this.publisher.connect();
    try {
      await this.positions.forget(this.publisher);
    } finally {
      await this.publisher.disconnect();
    }
  }

  protected async lead(session: LeaderSession<mysql.Connection>): Promise<void> {
    const { options, logger } = this;
    const catalog: BinlogCatalog = await binlogPreflight(session.client, this.tables);
    const [identity] = await session.client.query<mysql.RowDataPacket[]>(
      catalog.flavour === 'mariadb' ? 'select cast(@@server_id as char) as server' : 'select @@server_uuid as server',
    );
    const server = String(identity[0]!.server);
    const saved = await this.positions.load();
    if (saved && saved.server !== server) {
      throw new OutboxError(
        'SFG_CAPTURE_POSITION_OTHER_SERVER',
        `the saved binlog position (${saved.file}:${saved.pos}) is server ${saved.server}'s, this is server ${server}: run \`${BINLOG_RESET_COMMAND}\` to start at the end of this server's binlog`,
      );
    }
    const decoder = new BinlogDecoder(catalog, { ...this.capture, topicPrefix: this.capture.topicPrefix });
    const reader = new ZongJi({ ...connectionOptions(options.connectionString), dateStrings: true, timezone: 'Z', jsonStrings: true, supportBigNumbers: true, bigNumberStrings: true }) as unknown as Reader;

    let failed!: (error: Error) => void;
    const failure = new Promise<never>((_, reject) => (failed = reject));
    failure.catch(() => undefined);
    let accepting = true;
    let paused = false;
    let inTransaction = false;
    let acked: BinlogPosition | undefined = saved;
    let saving: Promise<void> | undefined;
    let savedPos = saved ? `${saved.file}:${saved.pos}` : '';
    const savePosition = async (): Promise<void> => {
      if (!acked || `${acked.file}:${acked.pos}` === savedPos) return;
      const position = acked;
      await this.positions.save(this.publisher, position);
      savedPos = `${position.file}:${position.pos}`;
    };
    const flushTimer = setInterval(() => {
      saving ??= savePosition()
        .catch((error: unknown) => logger.warn({ err: error }, 'saving the binlog position failed; retrying'))
        .finally(() => (saving = undefined));
    }, POSITION_FLUSH_MS);
    flushTimer.unref();

    const pipeline = new PublishPipeline<BinlogPosition>(options, {
      publisher: this.publisher,
      metrics: this.metrics,
      logger,
      onAcked: (position) => {
        acked = position;
        if (paused && pipeline.pendingEvents <= options.batch.maxPendingEvents / 2) {
          paused = false;
          reader.connection?.resume();
        }
      },
      onFailure: failed,
    });
    this.pipeline = pipeline as PublishPipeline<unknown>;

    const headerBytes = () => 19 + (reader.useChecksum ? 4 : 0);
    let txStartPos = saved?.pos ?? 0;
    let txGtid: string | null = null;
    let commitTimeMs = 0;
    const commitAt = (event: ReaderEvent) => {
      inTransaction = false;
      const rows = decoder.commit();
      const position: BinlogPosition = { file: reader.options.filename ?? '', pos: event.nextPosition, gtid: txGtid, server };
      txStartPos = event.nextPosition;
      if (rows.length === 0 && pipeline.idle) acked = position;
      else pipeline.push({ rows, token: position, sourceTimeMs: commitTimeMs || Date.now() });
      if (!paused && pipeline.pendingEvents > options.batch.maxPendingEvents) {
        paused = true;
        reader.connection?.pause();
      }
    };
    const begin = (event: ReaderEvent) => {
      inTransaction = true;
      txGtid = event.gtid ?? null;
      commitTimeMs = event.timestamp;
      decoder.begin({ gtid: txGtid, serverId: event.serverId ?? 0, timestampMs: event.timestamp, thread: null });
    };
    const truncated = (statement: string) => {
      const match = /^\s*truncate\s+(?:table\s+)?`?([^`.\s]+)`?(?:\.`?([^`\s;]+)`?)?/i.exec(statement);
      if (!match) return;
      const name = match[2] ? `${match[1]}.${match[2]}` : undefined;
      for (const { db, table } of this.tables) {
        if (name === `${db}.${table}` || (!match[2] && match[1] === table)) {
          this.captureMetrics.truncateSkipped(`${db}.${table}`);
          logger.warn({ table: `${db}.${table}` }, 'TRUNCATE of a captured table not published (as Debezium by default): its rows stay in the consumers');
        }
      }
    };

    reader.on('binlog', (event) => {
      if (!accepting) return;
      try {
        switch (event.getTypeName()) {
          case 'Gtid':
          case 'AnonymousGtid':
          case 'MariadbGtid':
            begin(event);
            return;
          case 'Query': {
            const statement = event.query ?? '';
            if (statement === 'BEGIN') {
              if (!inTransaction) begin(event);
              if (event.slaveProxyId !== undefined) decoder.thread(event.slaveProxyId);
              return;
            }
            if (statement === 'COMMIT') {
              commitAt(event);
              return;
            }
            // DDL (and the statements of a non-transactional table outside ROW format): a transaction of its own.
            truncated(statement);
            if (event.nextPosition > 0) commitAt(event);
            return;
          }
          case 'Xid':
          case 'XaPrepare':
            commitAt(event);
            return;
          case 'AnnotateRows':
          case 'RowsQuery':
            // The statement's text: a leading origin marker tags its transaction (mysqlOriginComment).
            decoder.statement(event.statement ?? '');
            return;
          case 'WriteRows':
          case 'UpdateRows':
          case 'DeleteRows': {
            const map = event.tableMap?.[event.tableId!];
            if (!map || !decoder.captures(map.parentSchema, map.tableName)) return;
            const kind = event.getTypeName() === 'WriteRows' ? 'insert' : event.getTypeName() === 'UpdateRows' ? 'update' : 'delete';
            // MariaDB may leave end_log_pos 0 inside a transaction: then the transaction's start names the event.
            const pos = event.nextPosition > 0 ? event.nextPosition - event.size - headerBytes() : txStartPos;
            decoder.event({
              kind,
              db: map.parentSchema,
              table: map.tableName,
              columns: map.columnSchemas,
              rows: event.rows as Record<string, BinlogValue>[],
              file: reader.options.filename ?? '',
              pos,
            });
            return;
          }
          default:
            return;
        }
      } catch (error) {
        failed(error as Error);
      }
    });
    reader.on('error', (raw) => {
      // An error the reader re-emits without a listener of its own arrives wrapped (ERR_UNHANDLED_ERROR, in `context`).
      const context = (raw as unknown as { context?: unknown } | undefined)?.context;
      const error = (context instanceof Error ? context : raw) as Error | undefined;
      const errno = (error as { errno?: number } | undefined)?.errno;
      if (errno === 1236 && !/could not find first log file|purged|not (?:find|open) .*log/i.test(error?.message ?? '')) {
        // 1236 is the server's "fatal error reading the binlog": another replica with our server id, a corrupt event.
        failed(new OutboxError('SFG_CAPTURE_BINLOG_READ', `the server refused the binlog stream: ${error?.message} (the replica server id is capture.serverId)`, { cause: error }));
        return;
      }
      if (errno === 1236) {
        failed(
          new OutboxError(
            'SFG_CAPTURE_BINLOG_PURGED',
            `the server no longer has the binlog at the saved position (${acked?.file}:${acked?.pos}): changes since then are lost to capture. ` +
              `Reconcile the consumers (strangler verify / backfill), then run \`${BINLOG_RESET_COMMAND}\` and start the relay again`,
            { cause: error },
          ),
        );
        return;
      }
      // Compressed transactions and partial JSON updates (MySQL settings the preflight refuses) are never decodable.
      const undecodable = /cannot decode/i.test(error?.message ?? '');
      failed(new OutboxError(undecodable ? 'SFG_CAPTURE_UNDECODABLE' : 'SFG_CAPTURE_BINLOG_STREAM', `binlog stream failed: ${error?.message}`, { retriable: !undecodable, cause: error }));
    });

    const started = new Promise<void>((resolve) => reader.on('ready', () => resolve()));
    const tables: Record<string, string[]> = {};
    for (const { db, table } of this.tables) (tables[db] ??= []).push(table);
    reader.start({
      serverId: this.capture.serverId ?? replicaServerId(options.slotName),
      ...(saved ? { filename: saved.file, position: saved.pos } : { startAtEnd: true }),
      includeSchema: tables,
      // MariaDB sends a statement's text (annotaterows) only when asked; MySQL sends rowsquery when it logs them.
      requestAnnotateRows: true,
      includeEvents: ['rotate', 'format', 'gtid', 'anonymousgtid', 'mariadbgtid', 'query', 'xid', 'xaprepare', 'annotaterows', 'rowsquery', 'tablemap', 'writerows', 'updaterows', 'deleterows'],
    });
    try {
      await Promise.race([started, failure, session.lost]);
      if (!saved) {
        // The first start begins at the end of the binlog: that is the position from now on, saved at once.
        acked = { file: reader.options.filename ?? '', pos: Number(reader.options.position ?? 4), gtid: null, server };
        txStartPos = acked.pos;
        await savePosition();
      }
      logger.info({ file: acked?.file, pos: acked?.pos, server: catalog.version }, 'streaming from the binlog');
      this.announceLeading();
      await Promise.race([session.stopRequested, session.lost, failure]);
      accepting = false;
      decoder.reset();
      const drained = await pipeline.drain(options.stopTimeoutMs);
      await saving;
      await savePosition().catch((error: unknown) => logger.warn({ err: error }, 'saving the binlog position at stop failed'));
      logger.info({ drained, file: acked?.file, pos: acked?.pos }, 'relay drained');
    } catch (error) {
      pipeline.abort();
      throw error;
    } finally {
      accepting = false;
      clearInterval(flushTimer);
      reader.on('error', () => undefined);
      reader.stop();
    }
  }
}
