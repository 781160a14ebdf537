import pg from 'pg';
import { OutboxError } from '../errors';
import type { RelayDeps } from '../leadership';
import type { RelayOptions } from '../options';
import { ReplicationSlotRelay, type TransactionDecoder } from '../slot-stream';
import { ChangeDecoder } from './decoder';
import { REPLICATION_SESSION_SETTINGS } from './envelope';
import { createCaptureMetrics, type CaptureMetrics } from './metrics';
import type { CaptureOptions } from './options';
import { preflight, type CaptureCatalog } from './preflight';
import { prepareCaptureSlot } from './slot';

/**
 * Captures the row changes of a database's own tables (`mode: 'tables'`) from a publication and a slot of its own
 * (nothing else is added to the database) and publishes them as Debezium's Postgres connector would: topic
 * `<topicPrefix>.<schema>.<table>`, key the primary key's JSON, value the change-event envelope, a tombstone after a
 * delete. Leadership, hot standby, the Kafka-acknowledged slot position, backpressure and slot safety are the CDC
 * relay's (ReplicationSlotRelay). Each record also carries the headers origin, id (deterministic), type, txid, lsn
 * and commit_lsn; a transaction marked with markOrigin carries that origin.
 */
export class TableCaptureRelay extends ReplicationSlotRelay {
  protected override readonly logicalMessages = true;
  protected override readonly replicationSettings = REPLICATION_SESSION_SETTINGS;
  private readonly capture: CaptureOptions;
  private readonly captureMetrics: CaptureMetrics;
  private catalog: CaptureCatalog | undefined;
  private confirmedAtStart = '0/0';

  constructor(options: RelayOptions, deps: RelayDeps) {
    super(options, deps);
    if (options.mode !== 'tables' || !options.capture) {
      throw new OutboxError('SFG_CAPTURE_OPTIONS', "TableCaptureRelay needs relay options with mode 'tables' and capture (parseRelayOptions)");
    }
    this.capture = options.capture;
    this.captureMetrics = createCaptureMetrics(deps.registry, options.name);
  }

  /** Checks the database first (every problem at once, CapturePreflightError), so a standby refuses a bad setup too. */
  override async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: `strangler-relay-${this.options.name}` });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await this.check(client);
    } finally {
      await client.end().catch(() => undefined);
    }
    await super.start();
  }

  private check(client: pg.Client): Promise<CaptureCatalog> {
    const { slotName, publicationName } = this.options;
    return preflight(client, { tables: this.capture.tables, slotName, publicationName });
  }

  protected async prepareSlot(client: pg.Client): Promise<void> {
    const catalog = await this.check(client);
    this.confirmedAtStart = await prepareCaptureSlot(client, catalog, this.options, this.logger);
    this.catalog = catalog;
  }

  protected createDecoder(): TransactionDecoder {
    const { logger } = this;
    return new ChangeDecoder(this.catalog!, {
      ...this.capture,
      lastCommitLsn: this.confirmedAtStart,
      logger,
      onTruncate: (table) => {
        this.captureMetrics.truncateSkipped(table);
        logger.warn({ table }, 'TRUNCATE of a captured table not published (as Debezium by default): its rows stay in the consumers');
      },
    });
  }
}
