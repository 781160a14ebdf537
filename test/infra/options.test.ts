import { resolveEnvironment, withDatabase } from '../../infra';

describe('infra environment', () => {
  it('uses documented defaults and marks nothing external when no env var is set', () => {
    const env = resolveEnvironment({});
    expect(env.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(env.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect(env.unleashUrl).toBe('http://127.0.0.1:4242/api');
    expect(env.prometheusUrl).toBe('http://127.0.0.1:9090');
    expect(Object.values(env.external).every((external) => !external)).toBe(true);
  });

  it('uses the user services named by env vars and starts none of them', () => {
    const env = resolveEnvironment({ KAFKA_BROKERS: 'k1:9092, k2:9092', DATABASE_URL: 'postgres://u@db:5433/app' });
    expect(env.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(env.external).toEqual({ postgres: true, kafka: true, unleash: false, prometheus: false });
  });

  it('swaps only the database name of a postgres URL', () => {
    expect(withDatabase('postgres://u:p@h:5433/app?sslmode=disable', 'other')).toBe('postgres://u:p@h:5433/other?sslmode=disable');
  });
});
