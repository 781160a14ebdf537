/**
 * Recording rules for the expensive panel and alert queries. Names follow Prometheus' `level:metric:operations`
 * convention. Aggregations use `without (instance, ...)` rather than `by (...)` so that target labels added by the
 * scrape configuration (job, component, testrun, a deployment's cluster or namespace) survive into the recorded
 * series and dashboards can still select on them.
 */

export interface RecordingRule {
  record: string;
  expr: string;
}

export interface RuleGroup<Rule> {
  name: string;
  rules: Rule[];
}

export const RECORDED = {
  proxyRequestsRate1m: 'route_target:strangler_proxy_requests:rate1m',
  proxyRequestErrorsRate1m: 'route_target:strangler_proxy_request_errors:rate1m',
  proxyRequestsRate5m: 'route_target:strangler_proxy_requests:rate5m',
  proxyRequestErrorsRate5m: 'route_target:strangler_proxy_request_errors:rate5m',
  proxyErrorRatioRate5m: 'route_target:strangler_proxy_request_error_ratio:rate5m',
  proxyDurationBucketRate1m: 'route_target_le:strangler_proxy_request_duration_seconds_bucket:rate1m',
  proxyDurationP99Rate5m: 'route_target:strangler_proxy_request_duration_seconds:p99_rate5m',
  outboxLatencyBucketRate1m: 'relay_le:strangler_outbox_publish_latency_seconds_bucket:rate1m',
} as const;

/** Requests and 5xx responses per route and side; a side without any 5xx records 0, not a missing series. */
function requestAndErrorRates(window: '1m' | '5m', requests: string, errors: string): RecordingRule[] {
  return [
    { record: requests, expr: `sum without (instance, method, code) (rate(strangler_proxy_requests_total[${window}]))` },
    {
      record: errors,
      expr: `sum without (instance, method, code) (rate(strangler_proxy_requests_total{code=~"5.."}[${window}]))\nor\n${requests} * 0`,
    },
  ];
}

export const RECORDING_GROUPS: RuleGroup<RecordingRule>[] = [
  {
    name: 'strangler-proxy.recording',
    rules: [
      ...requestAndErrorRates('1m', RECORDED.proxyRequestsRate1m, RECORDED.proxyRequestErrorsRate1m),
      ...requestAndErrorRates('5m', RECORDED.proxyRequestsRate5m, RECORDED.proxyRequestErrorsRate5m),
      { record: RECORDED.proxyErrorRatioRate5m, expr: `${RECORDED.proxyRequestErrorsRate5m}\n/\n${RECORDED.proxyRequestsRate5m}` },
      {
        record: RECORDED.proxyDurationBucketRate1m,
        expr: 'sum without (instance) (rate(strangler_proxy_request_duration_seconds_bucket[1m]))',
      },
      {
        record: RECORDED.proxyDurationP99Rate5m,
        expr: 'histogram_quantile(0.99, sum without (instance) (rate(strangler_proxy_request_duration_seconds_bucket[5m])))',
      },
    ],
  },
  {
    name: 'strangler-outbox.recording',
    rules: [
      {
        record: RECORDED.outboxLatencyBucketRate1m,
        expr: 'sum without (instance) (rate(strangler_outbox_publish_latency_seconds_bucket[1m]))',
      },
    ],
  },
];
