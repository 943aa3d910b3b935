import { readdirSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import argon2 from 'argon2';

/**
 * Child process that hashes and verifies passwords at the lowest CPU priority, so sign-ins use the
 * processor only when requests are not waiting for it. Every thread of this process (including the
 * thread pool argon2 runs on) is lowered, not just the main one.
 */
function lowerPriority(): void {
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    tids = []; // not Linux: the process priority below is all there is
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), constants.priority.PRIORITY_LOW);
    } catch {
      // a thread that just ended
    }
  }
  try {
    setPriority(constants.priority.PRIORITY_LOW);
  } catch {
    // not allowed here: still correct, only without the priority
  }
}

export interface HashRequest {
  id: number;
  op: 'hash' | 'verify';
  password: string;
  hash?: string;
  options?: { type: 0 | 1 | 2; memoryCost: number; timeCost: number; parallelism: number };
}

export interface HashReply {
  id: number;
  result?: string | boolean;
  error?: string;
}

async function handle(req: HashRequest): Promise<HashReply> {
  try {
    if (req.op === 'hash') return { id: req.id, result: await argon2.hash(req.password, req.options) };
    return { id: req.id, result: await argon2.verify(req.hash ?? '', req.password) };
  } catch (err) {
    return { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
}

// Starts the thread pool (so its threads exist), then lowers every thread.
void argon2.hash('warm-up', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 }).then(() => {
  lowerPriority();
  process.on('message', (req: HashRequest) => {
    void handle(req).then((reply) => process.send?.(reply));
  });
  process.send?.({ id: 0, result: 'ready' } satisfies HashReply);
});
process.on('disconnect', () => process.exit(0));
