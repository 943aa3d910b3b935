import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { lockDataDir, startEmbeddedDatabase, type EmbeddedDatabase } from './embedded';
import { withDatabaseLock } from './lock';

/** The embedded database as separate processes see it: many connections, one PGlite session. */
let db: EmbeddedDatabase;
const pools: Pool[] = [];
const pool = () => {
  const p = new Pool({ connectionString: db.url, max: 4 });
  pools.push(p);
  return p;
};

beforeAll(async () => {
  db = await startEmbeddedDatabase({});
  await pool().query('CREATE TABLE t (id serial PRIMARY KEY, v int NOT NULL)');
});
afterAll(async () => {
  for (const p of pools) await p.end();
  await db?.stop();
});

describe('embedded database server', () => {
  it('runs bare extended-protocol statements of many connections at once without mixing them up', async () => {
    const [a, b, c] = [pool(), pool(), pool()];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) {
      const p = [a, b, c][i % 3];
      // Each answer must belong to its own statement and parameters.
      work.push(
        p.query('INSERT INTO t (v) VALUES ($1) RETURNING v', [i]).then((r) => expect(r.rows).toEqual([{ v: i }])),
      );
      work.push(
        p
          .query('SELECT $1::text AS echo, $2::int * 2 AS twice', [`s${i}`, i])
          .then((r) => expect(r.rows).toEqual([{ echo: `s${i}`, twice: 2 * i }])),
      );
    }
    await Promise.all(work);
    expect((await a.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(150);
  });

  it('cuts off a client that sends a malformed message and goes on serving the others', async () => {
    for (const bytes of [
      Buffer.from([0, 0, 0, 0, 0x04, 0xd2, 0x16, 0x2f]), // an SSL request claiming length 0
      Buffer.concat([Buffer.from([0, 0, 0, 8, 0, 3, 0, 0]), Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff])]), // startup, then length -1
    ]) {
      const socket = connect(Number(new URL(db.url).port), '127.0.0.1');
      const closed = new Promise((r) => socket.on('close', r));
      socket.on('error', () => undefined);
      socket.resume(); // read, so the server's close is seen
      socket.write(bytes);
      await closed;
    }
    expect((await pool().query('SELECT 42 AS n')).rows[0].n).toBe(42);
  });

  it('keeps a transaction to its connection: nobody else runs inside it or sees it before commit', async () => {
    const p = pool();
    const writer = await p.connect();
    const other = pool();
    try {
      await writer.query('BEGIN');
      await writer.query('INSERT INTO t (v) VALUES (-1)');
      // Another connection's statement waits for the transaction instead of running inside it.
      const read = other.query('SELECT count(*)::int AS n FROM t WHERE v = -1');
      let done = false;
      void read.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(done).toBe(false);
      await writer.query('ROLLBACK');
      expect((await read).rows[0].n).toBe(0);
    } finally {
      writer.release();
    }
  });

  it('rolls back the transaction of a client that disconnects in the middle of it, and serves the others', async () => {
    const c = new Client({ connectionString: db.url });
    c.on('error', () => undefined);
    await c.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO t (v) VALUES (-2)');
    const waiting = pool().query('SELECT count(*)::int AS n FROM t WHERE v = -2');
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0].n).toBe(0);
  });

  it('closes a connection that sits idle inside a transaction while others wait, and lets them through', async () => {
    const quick = await startEmbeddedDatabase({ idleInTransactionMs: 1500 });
    try {
      const holder = new Client({ connectionString: quick.url });
      holder.on('error', () => undefined);
      await holder.connect();
      await holder.query('BEGIN');
      const started = Date.now();
      const other = new Client({ connectionString: quick.url });
      await other.connect();
      expect((await other.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      await expect(holder.query('SELECT 1')).rejects.toThrow();
      await other.end();
    } finally {
      await quick.stop();
    }
  });

  it('takes over a database lock whose holder process has exited', async () => {
    const gone = `${hostname()}:${2 ** 22 + 1}:crashed`; // above Linux's largest pid: never running
    await withDatabaseLock(db.url, 'test:first', async () => undefined); // creates the lease table
    await pool().query(
      `INSERT INTO public.nexus_locks (name, holder, expires_at) VALUES ('test:crashed', $1, now() + interval '1 hour')`,
      [gone],
    );
    const started = Date.now();
    await withDatabaseLock(db.url, 'test:crashed', async () => undefined, { pollMs: 20 });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('lets one process at a time open a data directory, and takes over a lock left by one that exited', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-lock-'));
    try {
      const release = lockDataDir(dir);
      expect(() => lockDataDir(dir)).toThrow(/is open in process/);
      release();
      writeFileSync(join(dir, 'nexus.pid'), String(2 ** 22 + 1));
      lockDataDir(dir)();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a database lock to one holder at a time, though every connection shares one session', async () => {
    const order: string[] = [];
    const hold = (name: string) =>
      withDatabaseLock(
        db.url,
        'test:lock',
        async () => {
          order.push(`${name} in`);
          await new Promise((r) => setTimeout(r, 150));
          order.push(`${name} out`);
        },
        { pollMs: 20 },
      );
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i].split(' ')[0]).toBe(order[i + 1].split(' ')[0]);
      expect(order[i]).toMatch(/ in$/);
    }
  });
});
