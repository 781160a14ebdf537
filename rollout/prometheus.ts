import { RolloutError } from './errors';

/** Answers a PromQL instant query with one number, or undefined when it has no sample (or NaN: nothing to divide). */
export type QueryScalar = (expression: string) => Promise<number | undefined>;

/** An instant-query client for Prometheus' HTTP API that sums a vector answer into one number. */
export function prometheusQuery(baseUrl: string, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): QueryScalar {
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
    const values =
      resultType === 'scalar' ? [(result as [number, string])[1]] : resultType === 'vector' ? (result as Array<{ value: [number, string] }>).map((sample) => sample.value[1]) : [];
    const numbers = values.map(Number).filter((value) => !Number.isNaN(value));
    return numbers.length ? numbers.reduce((sum, value) => sum + value, 0) : undefined;
  };
}
