import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import argon2 from 'argon2';
import { logger } from '../../../kernel/log';
import type { HashReply, HashRequest } from './hash-worker';

/** argon2id with OWASP's minimum profile: 19 MiB, 2 iterations, 1 lane. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

const log = logger('identity.passwords');

/**
 * Where hashing runs. By default in a child process at the lowest CPU priority (hash-worker.ts): a
 * burst of sign-ins then takes only the processor time other requests leave, instead of competing
 * with them. Inline (PASSWORD_HASHING=inline), in this process on libuv's thread pool (which crypto and
 * file work share, so at most one hash per core and always two pool threads left free).
 */
const POOL = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
let worker: HashWorker | null = null;
let maxConcurrent = availableParallelism();
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

class ProcessEnded extends Error {
  constructor() {
    super('password hashing process ended');
  }
}

/** The hashing child: started on first use, restarted after a crash; it exits with this process. */
class HashWorker {
  private child: ChildProcess | null = null;
  private ready: Promise<ChildProcess> | null = null;
  private readonly pending = new Map<number, { resolve: (v: string | boolean) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Stopped with its last user: no restart until it is configured again. */
  stopped = false;

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** One retry on a fresh process when the process ends mid-request, so a crash costs no sign-in. */
  run(req: Omit<HashRequest, 'id'>): Promise<string | boolean> {
    return this.send(req).catch((err: Error) =>
      err instanceof ProcessEnded && !this.stopped ? this.send(req) : Promise.reject(err),
    );
  }

  private send(req: Omit<HashRequest, 'id'>): Promise<string | boolean> {
    return this.start().then(
      (child) =>
        new Promise((resolve, reject) => {
          const id = this.nextId++;
          this.pending.set(id, { resolve, reject });
          this.reference();
          child.send({ ...req, id } satisfies HashRequest);
        }),
    );
  }

  private start(): Promise<ChildProcess> {
    if (this.stopped) return Promise.reject(new ProcessEnded());
    this.ready ??= new Promise((resolve, reject) => {
      const ext = extname(__filename);
      const child = fork(join(__dirname, `hash-worker${ext}`), [], {
        execArgv: ext === '.ts' ? ['--import', 'tsx'] : [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      this.child = child;
      child.on('message', (reply: HashReply) => {
        if (reply.id === 0) return resolve(child);
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        this.reference();
        if (reply.error !== undefined) waiter.reject(new Error(reply.error));
        else waiter.resolve(reply.result!);
      });
      child.once('exit', (code, signal) => {
        if (this.stopped) log.debug({ code, signal }, 'password hashing process stopped');
        else log.warn({ code, signal }, 'password hashing process ended');
        this.child = null;
        this.ready = null;
        reject(new ProcessEnded());
        for (const waiter of this.pending.values()) waiter.reject(new ProcessEnded());
        this.pending.clear();
      });
      child.once('error', (err) => log.error({ err }, 'password hashing process failed'));
      this.reference();
    });
    return this.ready;
  }

  /** Ends the hashing process; it starts again only once identity configures hashing again. */
  stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** Keeps this process alive only while hashes are outstanding. */
  private reference(): void {
    const channel = this.child?.channel as { ref(): void; unref(): void } | undefined;
    if (this.pending.size > 0 || !this.ready) {
      this.child?.ref();
      channel?.ref();
    } else {
      this.child?.unref();
      channel?.unref();
    }
  }
}

/** Identity instances in this process that use hashing (the hashing process ends with the last one). */
let users = 0;

/** Chooses where hashing runs (identity calls this at start; the default is the child process). */
export function configurePasswordHashing(mode: 'process' | 'inline', user = true): void {
  if (user) users++;
  if (mode === 'inline') {
    worker = null;
    maxConcurrent = Math.max(1, Math.min(availableParallelism(), POOL - 2));
  } else {
    worker ??= new HashWorker();
    worker.stopped = false;
    maxConcurrent = availableParallelism();
  }
}
configurePasswordHashing('process', false);

/** An identity instance stopped: when it was the last one, the hashing process ends too. */
export async function releasePasswordHashing(): Promise<void> {
  users = Math.max(0, users - 1);
  if (users === 0) await worker?.stop();
}

export function hashPassword(password: string): Promise<string> {
  return limited(() =>
    worker
      ? (worker.run({ op: 'hash', password, options: OPTIONS }) as Promise<string>)
      : argon2.hash(password, OPTIONS),
  );
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return limited(() =>
    worker ? (worker.run({ op: 'verify', hash, password }) as Promise<boolean>) : argon2.verify(hash, password),
  ).catch(() => false);
}

/** The hashing process, if one runs (for operators and tests). */
export function passwordHashingPid(): number | undefined {
  return worker?.pid;
}

/** Starts the hashing process ahead of the first sign-in. */
export function warmUpPasswordHashing(): Promise<void> {
  return hashPassword('nexus-warm-up').then(() => undefined);
}

let dummy: Promise<string> | undefined;
/** Spends the same time as a real check when the account does not exist, so timing reveals nothing. */
export async function burnPasswordCheck(password: string): Promise<false> {
  // A hash lost to a stopping hashing process is not kept: the next check makes a new one.
  dummy ??= hashPassword('nexus-timing-equaliser').catch((err: unknown) => {
    dummy = undefined;
    throw err;
  });
  await verifyPassword(await dummy, password);
  return false;
}
