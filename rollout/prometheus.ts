import { RolloutError } from './errors';

/** Answers a PromQL instant query with one number, or undefined when it has no sample (or NaN: nothing to divide). */
export type QueryScalar = (expression: string) => Promise<number | undefined>;

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Answers a PromQL instant query with its samples (NaN ones dropped), now or at `atS` (unix seconds). */
export type QuerySamples = (expression: string, atS?: number) => Promise<Sample[]>;

async function callPrometheus(baseUrl: string, api: 'query' | 'query_range', params: Record<string, string>, timeoutMs: number): Promise<{ resultType: string; result: unknown }> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl.replace(/\/+$/, '')}/api/v1/${api}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new RolloutError('SFG_ROLLOUT_PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${baseUrl}: ${(error as Error).message}`, { retriable: true, cause: error });
  }
  const body = (await response.json().catch(() => undefined)) as { status: string; error?: string; data?: { resultType: string; result: unknown } } | undefined;
  if (!response.ok || body?.status !== 'success') {
    throw new RolloutError('SFG_ROLLOUT_PROMETHEUS_QUERY', `Prometheus refused ${params.query}: ${body?.error ?? response.status}`);
  }
  return body.data!;
}

/** An instant-query client for Prometheus' HTTP API. */
export function prometheusSamples(baseUrl: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): QuerySamples {
  return async (expression, atS) => {
    const { resultType, result } = await callPrometheus(baseUrl, 'query', { query: expression, ...(atS === undefined ? {} : { time: String(atS) }) }, timeoutMs);
    const samples: Sample[] =
      resultType === 'scalar'
        ? [{ labels: {}, value: Number((result as [number, string])[1]) }]
        : resultType === 'vector'
          ? (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }))
          : [];
    return samples.filter((sample) => !Number.isNaN(sample.value));
  };
}

export interface Series {
  labels: Record<string, string>;
  /** [unix seconds, value] pairs; NaN points dropped. */
  points: Array<[number, number]>;
}

/** Answers a PromQL range query from `startS` to `endS` (unix seconds) at one point every `stepS`. */
export type QueryRange = (expression: string, range: { startS: number; endS: number; stepS: number }) => Promise<Series[]>;

export function prometheusRange(baseUrl: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): QueryRange {
  return async (expression, range) => {
    const { result } = await callPrometheus(baseUrl, 'query_range', { query: expression, start: String(range.startS), end: String(range.endS), step: String(range.stepS) }, timeoutMs);
    return (result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map((series) => ({
      labels: series.metric,
      points: series.values.map(([at, value]): [number, number] => [at, Number(value)]).filter(([, value]) => !Number.isNaN(value)),
    }));
  };
}

/** The same client, summing a vector answer into one number. */
export function prometheusQuery(baseUrl: string, options: { timeoutMs?: number } = {}): QueryScalar {
  const samples = prometheusSamples(baseUrl, options);
  return async (expression) => {
    const found = await samples(expression);
    return found.length ? found.reduce((sum, sample) => sum + sample.value, 0) : undefined;
  };
}
