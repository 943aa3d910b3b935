import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { logger } from '../log';

/**
 * Serves one PGlite database to many `pg` connections over the PostgreSQL wire protocol.
 *
 * PGlite is a single backend session, so connections take turns on it. A connection holds the session
 * from its first message until the backend says it is idle again (ReadyForQuery with status 'I': no
 * transaction block open, no statement group or COPY in progress). Everything in between — an explicit
 * transaction, the Parse/Bind/Execute messages of one extended-protocol statement, a COPY — runs without
 * another connection's messages in the middle (interleaving them is what made "unnamed prepared
 * statement does not exist" appear).
 *
 * A connection that keeps the session while idle (inside a transaction, or mid-statement) blocks every
 * other one: that is logged as a stall, and after `idleInTransactionMs` with others waiting its connection
 * is closed and its transaction rolled back, as PostgreSQL's idle_in_transaction_session_timeout would.
 */
export interface EmbeddedServerOptions {
  db: PGlite;
  host?: string;
  port?: number;
  /** Log a warning when connections have waited this long for the session (repeated while it lasts). */
  stallWarnMs?: number;
  /** Close a connection that holds the session without sending anything for this long while others wait. */
  idleInTransactionMs?: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Largest message accepted from a client. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** Largest startup packet (PostgreSQL refuses more than 10,000 bytes too). */
const MAX_STARTUP_BYTES = 10_000;

/** Frontend messages built here to reset the session after a client left. */
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
const COPY_FAIL = frame('f', 'client disconnected');
const ROLLBACK = frame('Q', 'ROLLBACK');

const log = logger('db.embedded');

interface Frame {
  /** Message type byte ('Q', 'P', 'S'…). */
  kind: string;
  bytes: Buffer;
}

/** Reads the backend's answers as they stream out: the last ReadyForQuery status, COPY IN. */
class BackendReader {
  private pending: Buffer = Buffer.alloc(0);
  /** 'I' idle, 'T' in a transaction, 'E' in a failed transaction; null: no ReadyForQuery in this answer. */
  status: string | null = null;
  copyIn = false;

  read(chunk: Buffer): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (data.length >= 5) {
      const length = 1 + data.readInt32BE(1);
      if (data.length < length) break;
      const type = data[0];
      if (type === 0x5a /* Z */) {
        this.status = String.fromCharCode(data[5]);
        this.copyIn = false;
      } else if (type === 0x47 /* G: CopyInResponse */) {
        this.copyIn = true;
      }
      data = data.subarray(length);
    }
    this.pending = Buffer.from(data);
  }
}

class Connection {
  private static next = 1;
  readonly id = Connection.next++;
  application = '';
  readonly pending: Frame[] = [];
  /** Sent messages the backend has not finished with (no ReadyForQuery since). */
  unanswered = false;
  /** The backend waits for this connection's COPY data. */
  copyIn = false;
  started = false;
  closed = false;
  lastActivity = Date.now();
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    readonly socket: Socket,
    /** Answers the startup packet (the backend itself never sees one: a bad packet could end its session). */
    private readonly onStartup: () => void,
  ) {}

  get label(): string {
    return `${this.application || 'client'}#${this.id}`;
  }

  /** Splits what arrived into whole protocol messages; answers SSL/GSS probes itself. */
  receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.lastActivity = Date.now();
    for (;;) {
      const header = this.peek(this.started ? 5 : 8);
      if (!header) return;
      if (!this.started) {
        const length = header.readInt32BE(0);
        const code = header.readInt32BE(4);
        if (length < 8 || length > MAX_STARTUP_BYTES) return this.refuse(`invalid startup packet length ${length}`);
        const bytes = this.take(length);
        if (!bytes) return;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          // Cancelling a running statement is not supported by the embedded backend.
          this.socket.end();
          return;
        }
        if (code !== PROTOCOL_3) return this.refuse(`unsupported protocol ${code}`);
        this.application = startupParameter(bytes, 'application_name') ?? '';
        this.started = true;
        this.onStartup();
        continue;
      }
      const declared = header.readInt32BE(1);
      if (declared < 4 || declared > MAX_MESSAGE_BYTES) return this.refuse(`invalid message length ${declared}`);
      const bytes = this.take(1 + declared);
      if (!bytes) return;
      this.pending.push({ kind: String.fromCharCode(bytes[0]), bytes });
    }
  }

  /** The first `n` buffered bytes, or null when fewer have arrived. */
  private peek(n: number): Buffer | null {
    if (this.buffered < n) return null;
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes (a copy), or null when fewer have arrived. */
  private take(n: number): Buffer | null {
    if (this.buffered < n) return null;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const bytes = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return bytes;
  }

  /** A client that breaks the protocol is cut off: nothing it sent after the breach is run. */
  refuse(reason: string): void {
    log.warn({ connection: this.label, reason }, 'closing a connection that broke the protocol');
    this.chunks = [];
    this.buffered = 0;
    this.socket.destroy();
  }
}

function startupParameter(bytes: Buffer, name: string): string | undefined {
  const parts = bytes.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] === name) return parts[i + 1];
  return undefined;
}

function frame(type: string, text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
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
  /** Whether the session is in use right now (running a message, or resetting after a client left). */
  private busy = false;
  private stopped = false;
  private watchdog: NodeJS.Timeout | null = null;
  private lastStallLog = 0;
  /** The backend's answer to a startup packet (authentication ok, parameters, ready), sent to every client. */
  private greeting: Buffer = Buffer.alloc(0);

  constructor(private readonly options: EmbeddedServerOptions) {
    this.db = options.db;
    this.stallWarnMs = options.stallWarnMs ?? 5_000;
    this.idleInTransactionMs = options.idleInTransactionMs ?? 30_000;
  }

  async start(): Promise<number> {
    await this.db.waitReady;
    this.greeting = await this.greet();
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
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const server = this.server;
    this.server = null;
    for (const conn of this.connections) conn.socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Let a statement in progress finish before the database is closed under it.
    await this.idle();
  }

  /** Runs one startup packet through the backend and keeps its answer for every client's startup. */
  private async greet(): Promise<Buffer> {
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0', 'utf8');
    const packet = Buffer.alloc(8 + params.length);
    packet.writeInt32BE(packet.length, 0);
    packet.writeInt32BE(PROTOCOL_3, 4);
    params.copy(packet, 8);
    const chunks: Buffer[] = [];
    const reader = await this.execute(packet, null, (data) => chunks.push(data));
    if (reader.status !== 'I') throw new Error('the embedded database did not accept a connection');
    return Buffer.concat(chunks);
  }

  private async idle(): Promise<void> {
    while (this.busy) await new Promise((r) => setTimeout(r, 1));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const conn = new Connection(socket, () => socket.write(this.greeting));
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
    if (this.busy || this.stopped) return;
    this.busy = true;
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
        const message = conn.pending.shift()!;
        if (message.kind === 'X') {
          conn.socket.end();
          await this.reset(conn);
          continue;
        }
        const target = conn;
        const reader = await this.execute(message.bytes, target, (data) => {
          if (!target.closed) target.socket.write(data);
        });
        conn.lastActivity = Date.now();
        conn.copyIn = reader.copyIn;
        if (reader.status === null) {
          conn.unanswered = true; // mid-statement group or COPY: the session stays with this connection
        } else {
          conn.unanswered = false;
          if (reader.status === 'I') {
            this.owner = null;
            if (conn.pending.length) this.queue.push(conn);
          }
        }
      }
    } catch (err) {
      log.error({ err }, 'embedded database failed to run a message');
      const owner = this.owner;
      if (owner) {
        owner.socket.destroy();
        await this.reset(owner).catch(() => undefined);
      }
    } finally {
      this.busy = false;
    }
  }

  private async execute(
    bytes: Uint8Array,
    conn: Connection | null,
    onData: (data: Buffer) => void,
  ): Promise<BackendReader> {
    const reader = new BackendReader();
    const started = Date.now();
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(bytes, {
        onRawData: (chunk: Uint8Array) => {
          if (chunk.length === 0) return;
          const data = Buffer.from(chunk);
          reader.read(data);
          onData(data);
        },
      }),
    );
    const ms = Date.now() - started;
    // The backend runs on this thread: nothing else (not even the watchdog) ran meanwhile.
    if (ms >= this.stallWarnMs)
      log.warn({ connection: conn?.label, ms, waiting: this.queue.length }, 'one statement held the embedded database');
    return reader;
  }

  /**
   * Leaves the backend as a new connection would find it after its owner left: COPY abandoned, statement
   * group ended, transaction rolled back. The session is released whatever happens.
   */
  private async reset(conn: Connection): Promise<void> {
    if (this.owner !== conn) return;
    try {
      const discard = () => undefined;
      if (conn.copyIn) await this.execute(COPY_FAIL, null, discard);
      if (conn.unanswered || conn.copyIn) await this.execute(SYNC, null, discard);
      if (this.db.isInTransaction()) await this.execute(ROLLBACK, null, discard);
    } finally {
      conn.unanswered = false;
      conn.copyIn = false;
      this.owner = null;
    }
  }

  private async disconnect(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    conn.pending.length = 0;
    this.connections.delete(conn);
    const i = this.queue.indexOf(conn);
    if (i >= 0) this.queue.splice(i, 1);
    if (this.stopped) return; // the database closes: nothing to hand over
    if (this.owner === conn) {
      // Wait for a message of this connection that is running right now, then clean up after it.
      await this.idle();
      if (this.owner === conn && !this.stopped) {
        this.busy = true;
        try {
          await this.reset(conn);
        } catch (err) {
          log.error({ err, connection: conn.label }, 'could not reset the session after a client left');
        } finally {
          this.busy = false;
        }
      }
    }
    void this.pump();
  }

  /** Logs connections that wait for a session held by an idle one; ends a holder idle for too long. */
  private watch(): void {
    const owner = this.owner;
    if (!owner || this.busy || owner.closed) return;
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
