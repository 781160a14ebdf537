import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Exports, in the agreed catalogue's names and labels, a relay 95 s behind with 300 MiB of retained WAL that refuses
 * a send on every scrape because a topic's partition count changed, under its own `testrun` so these series can
 * never satisfy an expression meant for the real components. The outbox lag and slot lag alerts need minutes of
 * stalled publishing or hundreds of MiB of WAL, too slow and heavy for a test; the partition alert needs partitions
 * added under a running relay (test/outbox/topics.int.test.ts does that to the real relay and checks this counter).
 * This is not a component and proves nothing about one: it proves that those alert expressions evaluate on series
 * of the agreed shape (their panels are fed by the real relay).
 */
export class StandInExporter {
  private readonly registry = new Registry();
  private readonly server = http.createServer((_req, res) => {
    this.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });

  constructor() {
    const gauge = (name: string, value: number) =>
      new Gauge({ name, help: 'stand-in', labelNames: ['relay'], registers: [this.registry] }).set({ relay: 'stalled' }, value);
    gauge('strangler_outbox_lag_seconds', 95);
    gauge('strangler_outbox_slot_lag_bytes', 300 * 1024 * 1024);
    new Counter({
      name: 'strangler_outbox_publish_errors_total',
      help: 'stand-in',
      labelNames: ['relay', 'code'],
      registers: [this.registry],
      collect() {
        this.inc({ relay: 'stalled', code: 'SFG_OUTBOX_TOPIC_PARTITIONS_CHANGED' });
      },
    });
  }

  async start(port: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
