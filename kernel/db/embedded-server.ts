import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { logger } from '../log';

/**
 * Serves one PGlite database to many `pg` connections over the PostgreSQL wire protocol.
 *
 * PGlite is a single backend session, so connections take turns on it. A connection holds the session
 * from its first message until the backend is idle again: after a Sync or simple Query that leaves no
 * transaction block open. Everything in between — an explicit transaction, or the Parse/Bind/Execute
 * messages of one extended-protocol statement — runs without another connection's messages in the
 * middle (interleaving them is what made "unnamed prepared statement does not exist" appear).
 *
 * A connection that keeps the session while idle inside a transaction (or mid-statement) blocks every
 * other one: that is logged as a stall, and after `idleInTransactionMs` its connection is closed and its
 * transaction rolled back, as PostgreSQL's idle_in_transaction_session_timeout would.
 */
export interface EmbeddedServerOptions {
  db: PGlite;
  host?: string;
  port?: number;
  /** Log a warning when connections have waited this long for the session (repeated while it lasts). */
  stallWarnMs?: number;
  /** Close a connection that holds the session without sending anything for this long. */
  idleInTransactionMs?: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** A Sync message: ends an extended-protocol group (the backend answers ReadyForQuery). */
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

const log = logger('db.embedded');

interface Frame {
  /** Message type byte ('Q', 'P', 'S'…), or 'startup' for the untyped first message. */
  kind: string;
  bytes: Buffer;
}

class Connection {
  private static next = 1;
  readonly id = Connection.next++;
  application = '';
  readonly pending: Frame[] = [];
  /** Sent extended-protocol messages not yet followed by Sync. */
  unsynced = false;
  started = false;
  closed = false;
  lastActivity = Date.now();
  private buffer: Buffer = Buffer.alloc(0);

  constructor(readonly socket: Socket) {}

  get label(): string {
    return `${this.application || 'client'}#${this.id}`;
  }

  /** Splits what arrived into whole protocol messages; answers SSL/GSS probes itself. */
  receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.lastActivity = Date.now();
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const bytes = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          // Cancelling a running statement is not supported by the embedded backend.
          this.socket.end();
          return;
        }
        if (code !== PROTOCOL_3) {
          this.socket.destroy(new Error(`unsupported protocol ${code}`));
          return;
        }
        this.application = startupParameter(bytes, 'application_name') ?? '';
        this.started = true;
        this.pending.push({ kind: 'startup', bytes: Buffer.from(bytes) });
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < length) return;
      const bytes = Buffer.from(this.buffer.subarray(0, length));
      this.buffer = this.buffer.subarray(length);
      this.pending.push({ kind: String.fromCharCode(bytes[0]), bytes });
    }
  }
}

function startupParameter(bytes: Buffer, name: string): string | undefined {
  const parts = bytes.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] === name) return parts[i + 1];
  return undefined;
}

export class EmbeddedServer {
  private readonly db: PGlite;
  private readonly stallWarnMs: number;
  private readonly idleInTransactionMs: number;
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  /** The connection holding the session, and since when. */
  private owner: Connection | null = null;
  private ownerSince = 0;
  /** Connections with messages waiting for the session, first come first served. */
  private readonly queue: Connection[] = [];
  private pumping = false;
  private watchdog: NodeJS.Timeout | null = null;
  private lastStallLog = 0;

  constructor(private readonly options: EmbeddedServerOptions) {
    this.db = options.db;
    this.stallWarnMs = options.stallWarnMs ?? 5_000;
    this.idleInTransactionMs = options.idleInTransactionMs ?? 30_000;
  }

  async start(): Promise<number> {
    await this.db.waitReady;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.watchdog = setInterval(() => this.watch(), 1000);
    this.watchdog.unref();
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    const server = this.server;
    this.server = null;
    for (const conn of this.connections) conn.socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Let a statement in progress finish before the database is closed under it.
    while (this.pumping) await new Promise((r) => setTimeout(r, 5));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const conn = new Connection(socket);
    this.connections.add(conn);
    socket.on('data', (chunk: Buffer) => {
      conn.receive(chunk);
      if (conn.pending.length) this.enqueue(conn);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => void this.disconnect(conn));
  }

  private enqueue(conn: Connection): void {
    if (conn !== this.owner && !this.queue.includes(conn)) this.queue.push(conn);
    void this.pump();
  }

  /** Runs queued messages, one connection at a time, until nobody can proceed. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        let conn = this.owner;
        if (conn) {
          if (conn.pending.length === 0) return; // the owner is thinking: everybody else waits
        } else {
          conn = this.queue.shift() ?? null;
          if (!conn) return;
          if (conn.closed || conn.pending.length === 0) continue;
          this.owner = conn;
          this.ownerSince = Date.now();
        }
        const frame = conn.pending.shift()!;
        if (frame.kind === 'X') {
          conn.socket.end();
          await this.release(conn);
          continue;
        }
        await this.execute(
          frame.bytes,
          (data) => {
            if (!conn.closed) conn.socket.write(data);
          },
          conn,
        );
        conn.lastActivity = Date.now();
        if (frame.kind === 'S' || frame.kind === 'Q' || frame.kind === 'startup') {
          conn.unsynced = false;
          if (!this.db.isInTransaction()) {
            this.owner = null;
            if (conn.pending.length) this.queue.push(conn);
          }
        } else {
          conn.unsynced = true;
        }
      }
    } catch (err) {
      log.error({ err }, 'embedded database failed to run a message');
      if (this.owner) this.owner.socket.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private async execute(bytes: Uint8Array, onData: (data: Buffer) => void, conn?: Connection): Promise<void> {
    const started = Date.now();
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(bytes, { onRawData: (chunk: Uint8Array) => chunk.length > 0 && onData(Buffer.from(chunk)) }),
    );
    const ms = Date.now() - started;
    // The backend runs on this thread: nothing else (not even the watchdog) ran meanwhile.
    if (ms >= this.stallWarnMs) log.warn({ connection: conn?.label, ms, waiting: this.queue.length }, 'one statement held the embedded database');
  }

  /** Leaves the backend as a new connection would find it: statement group ended, transaction rolled back. */
  private async release(conn: Connection): Promise<void> {
    if (this.owner !== conn) return;
    const discard = () => undefined;
    if (conn.unsynced) await this.execute(SYNC, discard);
    if (this.db.isInTransaction()) await this.execute(simpleQuery('ROLLBACK'), discard);
    conn.unsynced = false;
    this.owner = null;
  }

  private async disconnect(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    conn.pending.length = 0;
    this.connections.delete(conn);
    const i = this.queue.indexOf(conn);
    if (i >= 0) this.queue.splice(i, 1);
    if (this.owner === conn) {
      // Wait for a message of this connection that is running right now, then clean up after it.
      while (this.pumping) await new Promise((r) => setTimeout(r, 1));
      if (this.owner === conn) {
        this.pumping = true;
        try {
          await this.release(conn);
        } catch (err) {
          log.error({ err, connection: conn.label }, 'could not reset the session after a client left');
        } finally {
          this.pumping = false;
        }
      }
    }
    void this.pump();
  }

  /** Logs connections that wait for a session held by an idle one; ends a holder idle for too long. */
  private watch(): void {
    const owner = this.owner;
    if (!owner || this.pumping) return;
    const now = Date.now();
    const idle = now - owner.lastActivity;
    const waiting = this.queue.filter((c) => !c.closed);
    if (waiting.length > 0 && idle >= this.idleInTransactionMs) {
      log.error(
        { holder: owner.label, idleMs: idle, waiting: waiting.map((c) => c.label) },
        'closing a connection idle inside a transaction: it held the embedded database for too long',
      );
      owner.socket.destroy();
      return;
    }
    if (waiting.length > 0 && idle >= this.stallWarnMs && now - this.lastStallLog >= this.stallWarnMs) {
      this.lastStallLog = now;
      log.warn(
        { holder: owner.label, heldMs: now - this.ownerSince, idleMs: idle, waiting: waiting.map((c) => c.label) },
        'embedded database stalled: a connection holds an open transaction while others wait',
      );
    }
  }
}

function simpleQuery(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const frame = Buffer.alloc(5 + text.length);
  frame.write('Q', 0, 'latin1');
  frame.writeInt32BE(4 + text.length, 1);
  text.copy(frame, 5);
  return frame;
}
