import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP hop to a real service (Redis, a subgraph) that a test can cut — open connections dropped, new ones
 * refused — and restore: the service becomes unreachable for whoever was pointed at the hop.
 */
export class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cut = false;

  constructor(private readonly target: URL) {
    this.server = createServer((client) => {
      if (this.cut) return void client.destroy();
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  /** The target's URL with the hop's address in it. */
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const url = new URL(this.target);
    url.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return url.toString();
  }

  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((r) => this.server.close(r));
  }
}

/** What an HTTP hop answers itself instead of forwarding. */
export interface CannedAnswer {
  status: number;
  body: string;
  contentType?: string;
}

/**
 * An HTTP hop to a real service that forwards every request as it is, except those `answer` replies to
 * itself (a service of another version, a broken one, a balancer's error page).
 */
export class InterceptingProxy {
  private readonly server: HttpServer;
  answer: (method: string, path: string) => CannedAnswer | undefined = () => undefined;

  constructor(private readonly target: URL) {
    this.server = createHttpServer((req, res) => {
      const canned = this.answer(req.method ?? 'GET', req.url ?? '/');
      if (canned) {
        req.resume();
        res.writeHead(canned.status, { 'content-type': canned.contentType ?? 'application/json' }).end(canned.body);
        return;
      }
      const upstream = httpRequest(
        { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
  }

  /** The target's URL (path included) with the hop's address in it. */
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const url = new URL(this.target);
    url.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return url.toString();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
