import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A started service: where it listens and how to stop it gracefully. */
export interface RunningService {
  name: string;
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Live counters for operators and tests (e.g. subscription groups). */
  stats?(): Record<string, number>;
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections, lets in-flight requests finish, then closes idle keep-alive sockets. */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  // Apollo's drain plugin may already have closed it; close() on a closed server never calls back.
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function urlFor(host: string, port: number, path = '/graphql'): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h}:${port}${path}`;
}
