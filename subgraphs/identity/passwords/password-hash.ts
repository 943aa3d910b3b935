import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

/** argon2id with OWASP's minimum profile: 19 MiB, 2 iterations, 1 lane. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

/**
 * argon2 runs on libuv's thread pool, which also serves crypto (token signing and verification) and
 * file work. Hashes wait their turn here instead, at most one per core and always leaving two pool
 * threads free, so a burst of sign-ins cannot queue every other request's crypto behind it.
 */
const POOL = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const MAX_CONCURRENT = Math.max(1, Math.min(availableParallelism(), POOL - 2));
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function hashPassword(password: string): Promise<string> {
  return limited(() => argon2.hash(password, OPTIONS));
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return limited(() => argon2.verify(hash, password)).catch(() => false);
}

let dummy: Promise<string> | undefined;
/** Spends the same time as a real check when the account does not exist, so timing reveals nothing. */
export async function burnPasswordCheck(password: string): Promise<false> {
  dummy ??= hashPassword('nexus-timing-equaliser');
  await verifyPassword(await dummy, password);
  return false;
}
