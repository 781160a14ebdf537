import { RECORDED, type RuleGroup } from './recording-rules';

/**
 * Alert thresholds. docs/dashboards.md documents each one next to its runbook; change both together.
 * Durations are Prometheus duration strings because they go into rule files unchanged.
 */
export const THRESHOLDS = {
  /** The extracted side's 5xx ratio may exceed legacy's by this much (0.02 = 2 percentage points). */
  errorRatioMargin: 0.02,
  /** Routes whose extracted side serves less than this (requests per second) never page: too little signal. */
  minExtractedRequestsPerSecond: 0.1,
  /** The extracted side's p99 may be this many times legacy's p99 ... */
  p99RegressionFactor: 1.5,
  /** ... and pages only once that p99 is also above this many seconds (fast routes jitter in relative terms). */
  p99FloorSeconds: 0.1,
  /** Age of the oldest event a relay has not yet had acknowledged by Kafka. */
  outboxLagSeconds: 30,
  /** WAL retained for a CDC relay's replication slot (256 MiB). */
  slotLagBytes: 256 * 1024 * 1024,
  /** Window in which a relay's refusal to publish to a topic whose partition count changed pages. */
  partitionsChangedWindow: '5m',
  /** Window in which any new dead-letter record pages. */
  dlqWindow: '10m',
  /** How long a circuit must stay out of the closed state (open or half-open) before paging. */
  circuitNotClosedFor: '5m',
  /** Share of a route's shadow comparisons that find a real difference (lag not counted) that opens a ticket. */
  shadowMismatchRatio: 0.01,
  /** Window in which a rollout controller's rollback opens a ticket. */
  rollbackWindow: '30m',
} as const;

/** Runbook links point at the runbook sections of docs/dashboards.md (the README links there). */
export const RUNBOOK_BASE_URL = 'https://github.com/strangler-fig/strangler-fig/blob/main/docs/dashboards.md#';

/** GitHub's heading anchor for `### Runbook: <alert>` (lower-cased, spaces to dashes, punctuation dropped). */
export function runbookAnchor(alert: string): string {
  return `runbook-${alert.toLowerCase()}`;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: 'page' | 'ticket';
  summary: string;
  description: string;
}

const t = THRESHOLDS;
const extractedTrafficFilter = `and ignoring (target)\n${RECORDED.proxyRequestsRate5m}{target="extracted"} > ${t.minExtractedRequestsPerSecond}`;

export const ALERTS: AlertRule[] = [
  {
    alert: 'StranglerExtractedErrorRatioAboveLegacy',
    // Legacy's ratio counts only while legacy still serves the route; at 100 % rollout the baseline is 0.
    expr: `(
  ${RECORDED.proxyErrorRatioRate5m}{target="extracted"}
  - ignoring (target) (
    (${RECORDED.proxyErrorRatioRate5m}{target="legacy"} and ${RECORDED.proxyRequestsRate5m}{target="legacy"} > 0)
    or ignoring (target)
    ${RECORDED.proxyErrorRatioRate5m}{target="extracted"} * 0
  )
) > ${t.errorRatioMargin}
${extractedTrafficFilter}`,
    for: '5m',
    severity: 'page',
    summary: 'Extracted side of route {{ $labels.route }} fails more often than legacy',
    description:
      `The 5xx ratio of route {{ $labels.route }} on the extracted side is {{ $value | humanizePercentage }} above legacy's ` +
      `(margin ${t.errorRatioMargin * 100} percentage points) over the last 5 minutes.`,
  },
  {
    alert: 'StranglerExtractedLatencyRegression',
    expr: `(
  ${RECORDED.proxyDurationP99Rate5m}{target="extracted"}
  > ignoring (target) ${t.p99RegressionFactor} * ${RECORDED.proxyDurationP99Rate5m}{target="legacy"}
)
and ignoring (target)
${RECORDED.proxyDurationP99Rate5m}{target="extracted"} > ${t.p99FloorSeconds}
${extractedTrafficFilter}`,
    for: '10m',
    severity: 'page',
    summary: 'Extracted side of route {{ $labels.route }} is slower than legacy at p99',
    description:
      `The p99 latency of route {{ $labels.route }} on the extracted side is {{ $value | humanizeDuration }}, ` +
      `more than ${t.p99RegressionFactor}x legacy's p99 and above ${t.p99FloorSeconds} s.`,
  },
  {
    alert: 'StranglerOutboxLagHigh',
    expr: `max without (instance) (strangler_outbox_lag_seconds) > ${t.outboxLagSeconds}`,
    for: '2m',
    severity: 'page',
    summary: 'Outbox relay {{ $labels.relay }} is behind',
    description: `The oldest event relay {{ $labels.relay }} has not yet published is {{ $value | humanizeDuration }} old (threshold ${t.outboxLagSeconds} s).`,
  },
  {
    alert: 'StranglerReplicationSlotLagHigh',
    expr: `max without (instance) (strangler_outbox_slot_lag_bytes) > ${t.slotLagBytes}`,
    for: '5m',
    severity: 'page',
    summary: 'Replication slot of relay {{ $labels.relay }} retains too much WAL',
    description: `Postgres retains {{ $value | humanize1024 }}B of WAL for relay {{ $labels.relay }} (threshold ${t.slotLagBytes / 1024 / 1024} MiB); the disk fills if it keeps growing.`,
  },
  {
    alert: 'StranglerOutboxTopicPartitionsChanged',
    // The relay holds every event for the topic (retrying) rather than send it to another partition than its key's earlier ones.
    expr: `sum without (instance, code) (increase(strangler_outbox_publish_errors_total{code="SFG_OUTBOX_TOPIC_PARTITIONS_CHANGED"}[${t.partitionsChangedWindow}])) > 0`,
    for: '0m',
    severity: 'page',
    summary: 'Outbox relay {{ $labels.relay }} refuses to publish: a topic\'s partition count changed',
    description: `Relay {{ $labels.relay }} refused {{ $value | humanize }} sends in the last ${t.partitionsChangedWindow} because a topic no longer has the partition count it was declared (or first seen) with; its events wait in the outbox.`,
  },
  {
    alert: 'StranglerOutboxDeadLetters',
    expr: `sum without (instance) (increase(strangler_outbox_dlq_total[${t.dlqWindow}])) > 0`,
    for: '0m',
    severity: 'ticket',
    summary: 'Outbox relay {{ $labels.relay }} dead-lettered events',
    description: `Relay {{ $labels.relay }} sent {{ $value | humanize }} events to its dead-letter topic in the last ${t.dlqWindow}.`,
  },
  {
    alert: 'StranglerSyncDeadLetters',
    expr: `sum without (instance, outcome) (increase(strangler_sync_events_total{outcome="dlq"}[${t.dlqWindow}])) > 0`,
    for: '0m',
    severity: 'ticket',
    summary: 'Sync consumer {{ $labels.consumer }} dead-lettered {{ $labels.aggregatetype }} events',
    description: `Consumer {{ $labels.consumer }} gave up on {{ $value | humanize }} {{ $labels.aggregatetype }} events in the last ${t.dlqWindow}; the two sides now disagree until they are replayed.`,
  },
  {
    alert: 'StranglerDataDrift',
    expr: 'max without (instance) (strangler_sync_drift_rows) > 0',
    for: '0m',
    severity: 'page',
    summary: '{{ $labels.aggregatetype }} rows differ between legacy and extracted',
    description: '`strangler verify` found {{ $value }} {{ $labels.aggregatetype }} rows that differ between the legacy and the extracted database.',
  },
  {
    alert: 'StranglerFlagsNotReady',
    expr: 'strangler_proxy_flags_ready == 0',
    for: '1m',
    severity: 'page',
    summary: 'Proxy {{ $labels.instance }} has no feature flags',
    description: 'The proxy at {{ $labels.instance }} cannot reach Unleash or has no flag state yet, so every route falls back to legacy.',
  },
  {
    alert: 'StranglerCircuitOpen',
    // Half-open counts as not closed, so a circuit cycling open -> half-open -> open keeps the alert pending.
    expr: 'strangler_proxy_circuit_state >= 1',
    for: t.circuitNotClosedFor,
    severity: 'page',
    summary: 'Circuit to {{ $labels.cluster }} has not closed for a long time',
    description: `The proxy at {{ $labels.instance }} has kept its circuit to {{ $labels.cluster }} open or half-open for more than ${t.circuitNotClosedFor}; its routes are served by legacy.`,
  },
  {
    alert: 'StranglerShadowMismatches',
    // Lag (a difference replication explains) is in the denominator, never in the numerator.
    expr: `(
  sum without (instance, result) (rate(strangler_proxy_shadow_comparisons_total{result="mismatch"}[5m]))
  / sum without (instance, result) (rate(strangler_proxy_shadow_comparisons_total{result=~"match|mismatch|lag"}[5m]))
) > ${t.shadowMismatchRatio}`,
    for: '5m',
    severity: 'ticket',
    summary: 'Route {{ $labels.route }}: the two sides answer differently',
    description: '{{ $value | humanizePercentage }} of the shadow comparisons of route {{ $labels.route }} found a real difference (not replication lag) in the last 5 minutes; the proxy keeps the answers (GET /shadow/mismatches, shadow.mismatchLog).',
  },
  {
    alert: 'StranglerRolloutRolledBack',
    expr: `sum without (instance) (increase(strangler_rollout_rollbacks_total[${t.rollbackWindow}])) > 0`,
    for: '0m',
    severity: 'ticket',
    summary: 'The rollout of route {{ $labels.route }} was rolled back',
    description: `The rollout controller set route {{ $labels.route }} back to 0 % in the last ${t.rollbackWindow} after failed analyses; \`strangler rollout status {{ $labels.route }}\` says which checks failed.`,
  },
];

export const ALERT_GROUPS: RuleGroup<AlertRule>[] = [{ name: 'strangler.alerts', rules: ALERTS }];
