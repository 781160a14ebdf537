import net from 'node:net';
import { retrying } from '../../infra/process';

describe('infra waits (retrying)', () => {
  it('retries with growing pauses until the attempt succeeds, and returns its value', async () => {
    const attemptsAt: number[] = [];
    const value = await retrying(
      'thing',
      async () => {
        attemptsAt.push(Date.now());
        if (attemptsAt.length < 4) throw new Error('not yet');
        return 42;
      },
      { address: 'somewhere:1', timeoutMs: 5_000, intervalMs: 20, maxIntervalMs: 80 },
    );
    expect(value).toBe(42);
    const pauses = attemptsAt.slice(1).map((at, index) => at - attemptsAt[index]!);
    // The schedule is 20, 40, 80 ms (doubling, capped at 80). A busy machine only makes a pause longer, so each is
    // checked against its own floor, not against another measured pause.
    expect(pauses[0]).toBeGreaterThanOrEqual(15);
    expect(pauses[1]).toBeGreaterThanOrEqual(35);
    expect(pauses[2]).toBeGreaterThanOrEqual(75);
  });

  it('past the deadline, names the service, its address, the deadline and the last underlying error', async () => {
    // A port nobody listens on: the real ECONNREFUSED of a service that is not up.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const error = await retrying('unleash', () => fetch(`http://127.0.0.1:${port}/health`), { address: `127.0.0.1:${port}`, timeoutMs: 300, intervalMs: 50 }).catch(
      (caught: Error & { code?: string }) => caught,
    );
    expect(error).toMatchObject({ code: 'SFG_INFRA_START_TIMEOUT' });
    expect((error as Error).message).toMatch(new RegExp(`^unleash at 127\\.0\\.0\\.1:${port}: not ready after [\\d.]+ s \\(\\d+ attempts, deadline 0\\.3 s\\); last error: fetch failed: .*ECONNREFUSED`));
  });

  it('gives up at once on an error that is not worth retrying', async () => {
    let attempts = 0;
    const error = await retrying(
      'postgres',
      async () => {
        attempts += 1;
        throw Object.assign(new Error('password authentication failed'), { code: '28P01' });
      },
      { address: 'db:5432', timeoutMs: 5_000, retryOn: (caught) => (caught as { code?: string }).code === 'ECONNREFUSED' },
    ).catch((caught: Error) => caught);
    expect(attempts).toBe(1);
    expect((error as Error).message).toBe('postgres at db:5432: 28P01 password authentication failed');
  });
});
