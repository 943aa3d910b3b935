import express from 'express';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InternalClient } from '../gateway/internal-client';
import { policiesFromSupergraph } from '../gateway/policies';
import { USAGE_ROWS_PER_CALL, UsageMeter } from '../gateway/usage';
import { MemoryPubSub } from '../kernel/pubsub';
import { testKeys } from './support/platform';

/**
 * The gateway's usage counts reach tenancy in parts an internal call can carry, and a part tenancy refuses as
 * malformed is not sent again forever. Tenancy is played by a server speaking its `/internal/<name>` protocol,
 * with the same 16 kB body limit.
 */
const policies = policiesFromSupergraph(readFileSync(join(__dirname, '..', 'schema', 'supergraph.graphql'), 'utf8'));
let answer = 200;
const received: { tenantId: string; amount: number }[][] = [];
const server = express()
  .post('/internal/:name', express.json({ limit: '16kb' }), (req, res) => {
    if (req.params.name === 'quota-status') return void res.json({ result: { limits: {}, used: {} } });
    if (answer !== 200) return void res.status(answer).json({ error: 'refused' });
    received.push(req.body);
    res.json({ result: { recorded: req.body.length } });
  })
  .use((err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) =>
    res.status(err.status ?? 500).json({ error: err.message }),
  )
  .listen(0, '127.0.0.1');
const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
const meter = new UsageMeter(
  new InternalClient('tenancy', url, testKeys().context.privateKey!),
  60_000,
  new MemoryPubSub(),
);

beforeAll(() => new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve))));

afterAll(async () => {
  await meter.close();
  server.close();
});

/** One API call (a field not open over the limit) for each of `tenants`. */
async function callsOf(tenants: string[]): Promise<void> {
  for (const tenantId of tenants) {
    const { reservation } = await meter.reserve(tenantId, 'query', ['rooms'], policies);
    meter.settle(reservation!);
  }
}

it('sends many tenants’ counts in parts that fit an internal call, and each count once', async () => {
  const tenants = Array.from({ length: USAGE_ROWS_PER_CALL * 2 + 50 }, () => randomUUID());
  await callsOf(tenants);
  await meter.flush();
  expect(received.map((part) => part.length)).toEqual([USAGE_ROWS_PER_CALL, USAGE_ROWS_PER_CALL, 50]);
  expect(new Set(received.flat().map((r) => r.tenantId))).toEqual(new Set(tenants));
  received.length = 0;
  await meter.flush();
  expect(received).toEqual([]);
});

it('keeps counts tenancy could not take for the next flush, and drops a part it refuses as malformed', async () => {
  const [kept, refused] = [randomUUID(), randomUUID()];
  await callsOf([kept]);
  answer = 503;
  await meter.flush();
  answer = 200;
  await meter.flush();
  expect(received.flat()).toEqual([expect.objectContaining({ tenantId: kept, amount: 1 })]);

  received.length = 0;
  await callsOf([refused]);
  answer = 400;
  await meter.flush();
  answer = 200;
  await meter.flush();
  expect(received).toEqual([]);
});
