import argon2 from 'argon2';

/**
 * Sign-in throughput: logins/s through the gateway with 32 concurrent clients, as a ratio to bare
 * argon2id verifies/s (same parameters, same concurrency) measured in the same run, plus the p99 of a
 * cheap query running alongside.
 */
export interface LoginBenchInput {
  gatewayUrl: string;
  email: string;
  password: string;
  accessToken: string;
  seconds: number;
  concurrency: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function forSeconds(seconds: number, concurrency: number, work: () => Promise<void>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await work();
        done++;
      }
    }),
  );
  return done / seconds;
}

export async function loginBench(input: LoginBenchInput) {
  const hash = await argon2.hash(input.password, {
    type: argon2.argon2id,
    memoryCost: 19 * 1024,
    timeCost: 2,
    parallelism: 1,
  });
  const verifies = await forSeconds(input.seconds, input.concurrency, async () => {
    if (!(await argon2.verify(hash, input.password))) throw new Error('verify failed');
  });
  const cheapQuery = async (into: number[]) => {
    const t0 = performance.now();
    const res = await fetch(input.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${input.accessToken}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    await res.text();
    into.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  };
  // The cheap query on its own first (after a warm-up), as its baseline.
  const idle: number[] = [];
  while (idle.length < 250) await cheapQuery(idle);
  idle.splice(0, 50);
  const cheap: number[] = [];
  let measuring = true;
  const alongside = (async () => {
    while (measuring) await cheapQuery(cheap);
  })();
  const body = JSON.stringify({
    query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    variables: { i: { email: input.email, password: input.password } },
  });
  const logins = await forSeconds(input.seconds, input.concurrency, async () => {
    const res = await fetch(input.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const json = (await res.json()) as { errors?: unknown };
    if (json.errors) throw new Error(`login failed: ${JSON.stringify(json.errors)}`);
  });
  measuring = false;
  await alongside;
  cheap.sort((a, b) => a - b);
  idle.sort((a, b) => a - b);
  return {
    verifies,
    logins,
    ratio: logins / verifies,
    cheapP50: pct(cheap, 50),
    cheapP99: pct(cheap, 99),
    cheapSamples: cheap.length,
    idleP50: pct(idle, 50),
    idleP99: pct(idle, 99),
  };
}
