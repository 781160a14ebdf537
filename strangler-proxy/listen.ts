import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The URL a listening server answers on; a wildcard address becomes the loopback one. */
export function listenerUrl(server: http.Server): string {
  const address = server.address() as AddressInfo | null;
  if (!address) throw new Error('the server is not listening');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}

/** Resolves once `server` listens; rejects with the listen error (port in use, say). */
export function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes `server` (its open connections at once) and resolves when it has. */
export function closeNow(server: http.Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
