import { RolloutError } from './errors';

/** Answers a PromQL instant query with one number, or undefined when it has no sample (or NaN: nothing to divide). */
export type QueryScalar = (expression: string) => Promise<number | undefined>;

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Answers a PromQL instant query with its samples (NaN ones dropped). */
export type QuerySamples = (expression: string) => Promise<Sample[]>;

/** An instant-query client for Prometheus' HTTP API. */
export function prometheusSamples(baseUrl: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): QuerySamples {
  const endpoint = `${baseUrl.replace(/\/+$/, '')}/api/v1/query`;
  return async (expression) => {
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expression }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new RolloutError('SFG_ROLLOUT_PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${baseUrl}: ${(error as Error).message}`, { retriable: true, cause: error });
    }
    const body = (await response.json().catch(() => undefined)) as
      | { status: string; error?: string; data?: { resultType: string; result: unknown } }
      | undefined;
    if (!response.ok || body?.status !== 'success') {
      throw new RolloutError('SFG_ROLLOUT_PROMETHEUS_QUERY', `Prometheus refused ${expression}: ${body?.error ?? response.status}`);
    }
    const { resultType, result } = body.data!;
    const samples: Sample[] =
      resultType === 'scalar'
        ? [{ labels: {}, value: Number((result as [number, string])[1]) }]
        : resultType === 'vector'
          ? (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }))
          : [];
    return samples.filter((sample) => !Number.isNaN(sample.value));
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
