import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/**
 * An HTTP server with the project lifecycle: start() listens and resolves with the bound port (port 0 picks a
 * free one); stop() stops accepting, lets in-flight requests finish for up to `drainMs`, then closes what is
 * left. stop() is idempotent.
 */
export class HttpService {
  private server: http.Server | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly app: Express,
    private readonly options: { port: number; host: string; drainMs?: number },
  ) {}

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('server is not listening');
    return address.port;
  }

  get url(): string {
    return `http://${this.options.host}:${this.port}`;
  }

  async start(): Promise<number> {
    if (this.server) return this.port;
    const server = http.createServer(this.app);
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this.port;
  }

  stop(): Promise<void> {
    if (!this.server) return Promise.resolve();
    this.stopping ??= this.close(this.server);
    return this.stopping;
  }

  private async close(server: http.Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const drain = setTimeout(() => server.closeAllConnections(), this.options.drainMs ?? 5_000);
    drain.unref();
    await closed;
    clearTimeout(drain);
  }
}
