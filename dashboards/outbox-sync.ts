import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { THRESHOLDS } from './alerts';
import { alertThreshold, barGauge, buildWithPanelIds, dashboardBase, labelVariable, stat, timeseries } from './panels';
import { RECORDED } from './recording-rules';

const RELAY = 'relay=~"$relay"';
const CONSUMER = 'consumer=~"$consumer"';

const publishLatency = (q: number) => ({
  expr: `histogram_quantile(${q}, sum by (relay, le) (${RECORDED.outboxLatencyBucketRate1m}{${RELAY}}))`,
  legend: `{{relay}} p${q * 100}`,
});

export function outboxSync(): Dashboard {
  return buildWithPanelIds(
    dashboardBase('strangler-outbox-sync', 'strangler-fig / Outbox and sync', 'Is data flowing between legacy and extracted, and do both sides agree?')
      .withVariable(labelVariable('relay', 'Relay', 'strangler_outbox_published_total'))
      .withVariable(labelVariable('consumer', 'Sync consumer', 'strangler_sync_events_total'))
      .withRow(new RowBuilder('Outbox relays'))
      .withPanel(
        timeseries({
          title: 'Publish rate by aggregate type',
          description: 'Outbox events published to Kafka (acknowledged) per second.',
          unit: units.OpsPerSecond,
          queries: [
            {
              expr: `sum by (relay, aggregatetype) (rate(strangler_outbox_published_total{${RELAY}}[$__rate_interval]))`,
              legend: '{{relay}} {{aggregatetype}}',
            },
          ],
        }),
      )
      .withPanel(
        timeseries({
          title: 'Commit-to-ack latency (p50 / p99)',
          description: 'From the writing transaction\'s commit (polling relays: created_at) to Kafka\'s acknowledgement.',
          unit: units.Seconds,
          queries: [publishLatency(0.5), publishLatency(0.99)],
        }),
      )
      .withPanel(
        timeseries(
          {
            title: 'Outbox lag (oldest unacknowledged event)',
            description: `Age of the oldest event read but not yet acknowledged; 0 when idle. Alert above ${THRESHOLDS.outboxLagSeconds} s.`,
            unit: units.Seconds,
            queries: [{ expr: `max by (relay) (strangler_outbox_lag_seconds{${RELAY}})`, legend: '{{relay}}' }],
            width: 8,
          },
          { thresholdAt: THRESHOLDS.outboxLagSeconds, min: 0 },
        ),
      )
      .withPanel(
        timeseries(
          {
            title: 'Replication slot lag',
            description: `WAL Postgres retains for each CDC relay's slot (current LSN - confirmed flush LSN). Alert above ${THRESHOLDS.slotLagBytes / 1024 / 1024} MiB.`,
            unit: units.BytesIEC,
            queries: [{ expr: `max by (relay) (strangler_outbox_slot_lag_bytes{${RELAY}})`, legend: '{{relay}}' }],
            width: 8,
          },
          { thresholdAt: THRESHOLDS.slotLagBytes, min: 0 },
        ),
      )
      .withPanel(
        timeseries({
          title: 'Backlog',
          description: 'Events read but not yet acknowledged (polling relays: unpublished rows).',
          unit: units.Short,
          queries: [{ expr: `sum by (relay) (strangler_outbox_backlog_events{${RELAY}})`, legend: '{{relay}}' }],
          width: 8,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Publish errors by code',
          description: 'Failed publish attempts per second, by error code (retriable ones are retried).',
          unit: units.OpsPerSecond,
          queries: [
            { expr: `sum by (relay, code) (rate(strangler_outbox_publish_errors_total{${RELAY}}[$__rate_interval]))`, legend: '{{relay}} {{code}}' },
          ],
        }),
      )
      .withPanel(
        stat(
          {
            title: 'Dead-lettered events (time range)',
            description: 'Events sent to the dead-letter topic in the selected time range: by relays, and by sync consumers.',
            unit: units.Short,
            queries: [
              { expr: `sum by (relay) (increase(strangler_outbox_dlq_total{${RELAY}}[$__range]))`, legend: 'relay {{relay}}' },
              {
                expr: `sum by (consumer) (increase(strangler_sync_events_total{${CONSUMER}, outcome="dlq"}[$__range]))`,
                legend: 'consumer {{consumer}}',
              },
            ],
            width: 8,
          },
          { thresholds: alertThreshold(1) },
        ),
      )
      .withPanel(
        stat({
          title: 'Relay leaders',
          description: 'Instances holding leadership per relay; anything but 1 means no relay is publishing or two are.',
          unit: units.NoUnit,
          queries: [{ expr: `sum by (relay) (strangler_outbox_leader{${RELAY}})`, legend: '{{relay}}' }],
          width: 4,
        }),
      )
      .withRow(new RowBuilder('Sync consumers'))
      .withPanel(
        timeseries({
          title: 'Consumer lag',
          description: 'Messages between the high watermark and the committed offset, per consumer and topic.',
          unit: units.Short,
          queries: [{ expr: `max by (consumer, topic) (strangler_sync_consumer_lag_messages{${CONSUMER}})`, legend: '{{consumer}} {{topic}}' }],
        }),
      )
      .withPanel(
        timeseries(
          {
            title: 'Sync outcomes',
            description: 'Events handled per second by outcome: applied, duplicate (already in the inbox), stale (older version), conflict, retried, dlq.',
            unit: units.OpsPerSecond,
            queries: [
              { expr: `sum by (outcome) (rate(strangler_sync_events_total{${CONSUMER}}[$__rate_interval]))`, legend: '{{outcome}}' },
            ],
          },
          { stacked: true },
        ),
      )
      .withPanel(
        timeseries({
          title: 'Sync outcomes per aggregate type',
          description: 'The same outcomes split by aggregate type, to find which entity is stale or conflicting.',
          unit: units.OpsPerSecond,
          queries: [
            {
              expr: `sum by (aggregatetype, outcome) (rate(strangler_sync_events_total{${CONSUMER}}[$__rate_interval]))`,
              legend: '{{aggregatetype}} {{outcome}}',
            },
          ],
        }),
      )
      .withPanel(
        barGauge(
          {
            title: 'Drift rows per aggregate type',
            description: 'Rows that differ between legacy and extracted, as last measured by `strangler verify`. Anything above 0 pages.',
            unit: units.Short,
            queries: [{ expr: 'max by (aggregatetype) (strangler_sync_drift_rows)', legend: '{{aggregatetype}}' }],
          },
          { min: 0, max: 100 },
          alertThreshold(1),
        ),
      ),
  );
}
