import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Exports, in the agreed catalogue's names and labels, the series that no real component in the integration test
 * produces, under their own `testrun` so they can never satisfy an expression meant for the real components:
 * - the sync consumer's `strangler_sync_events_total` and `strangler_sync_consumer_lag_messages`: outbox/ has no
 *   inbox consumer yet;
 * - a relay 95 s behind with 300 MiB of retained WAL: the outbox lag and slot lag alerts need minutes of stalled
 *   publishing or hundreds of MiB of WAL, too slow and heavy for a test.
 * This is not a component and proves nothing about one; it proves that those expressions evaluate on series of the
 * agreed shape.
 */
export class StandInExporter {
  private readonly registry = new Registry();
  private readonly server = http.createServer((_req, res) => {
    this.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  private ticker: NodeJS.Timeout | undefined;
  private readonly syncEvents = new Counter({
    name: 'strangler_sync_events_total',
    help: 'stand-in',
    labelNames: ['consumer', 'aggregatetype', 'outcome'],
    registers: [this.registry],
  });

  constructor() {
    const gauge = (name: string, labelNames: string[], labels: Record<string, string>, value: number) =>
      new Gauge({ name, help: 'stand-in', labelNames, registers: [this.registry] }).set(labels, value);
    gauge('strangler_sync_consumer_lag_messages', ['consumer', 'topic'], { consumer: 'users-sync', topic: 'outbox.event.user' }, 40);
    gauge('strangler_outbox_lag_seconds', ['relay'], { relay: 'stalled' }, 95);
    gauge('strangler_outbox_slot_lag_bytes', ['relay'], { relay: 'stalled' }, 300 * 1024 * 1024);
  }

  /** Serves /metrics on 127.0.0.1:`port`; every outcome, dlq included, grows by one per `tickMs`. */
  async start(port: number, tickMs = 500): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.ticker = setInterval(() => {
      for (const outcome of ['applied', 'duplicate', 'stale', 'conflict', 'retried', 'dlq']) {
        this.syncEvents.inc({ consumer: 'users-sync', aggregatetype: 'user', outcome });
      }
    }, tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
