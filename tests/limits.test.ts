import type { RunningService } from '../kernel/http/service';
import type { User } from './support/client';
import { codes } from './support/gql';
import { startExtraGateway, startTestPlatform, type TestPlatform } from './support/platform';
import { SUBGRAPHS } from '../kernel/services';
import { connect } from './support/ws';

let t: TestPlatform;
let account: User;
let production: RunningService;

beforeAll(async () => {
  t = await startTestPlatform();
  account = await t.signUp('Limits');
  // A second gateway over the same subgraphs, configured as in production.
  production = await startExtraGateway(t, { production: true, limits: { maxDepth: 4, maxAliases: 20, maxCost: 5000 } });
});
afterAll(async () => {
  await production?.stop();
  await t?.stop();
});

const post = (body: unknown, url = t.gatewayUrl) => account.via(url).raw(body);

describe('gateway request limits and bad input', () => {
  it('refuses a query deeper than the limit before calling any subgraph', async () => {
    // The production gateway below runs with maxDepth 4.
    const query = '{ messages(roomId: "x") { edges { node { room { id } } } } }';
    const refused = await post({ query }, production.url);
    expect(refused.status).toBe(400);
    expect(codes(refused)).toEqual(['DEPTH_LIMIT_EXCEEDED']);
    const allowed = await post({ query });
    expect(codes(allowed)).toEqual(['ROOM_NOT_FOUND']);
  });

  it('refuses too many aliases (one operation packing many calls)', async () => {
    const query = `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    const res = await post({ query });
    expect(res.status).toBe(400);
    expect(codes(res)).toContain('ALIAS_LIMIT_EXCEEDED');
  });

  it('refuses a query whose estimated cost is too high, counting list sizes from arguments and variables', async () => {
    const lists = (n: number, size: string) =>
      Array.from(
        { length: n },
        (_, i) =>
          `l${i}: ledgerAccounts(first: ${size}) { id code currency ownerId debitsPosted creditsPosted entryIndex createdAt }`,
      ).join(' ');
    const cheap = await post({ query: `{ ${lists(2, '100')} }` });
    expect(cheap.status).toBe(200);
    const expensive = await post({ query: `{ ${lists(8, '100')} }` });
    expect(expensive.status).toBe(400);
    expect(codes(expensive)).toEqual(['COST_LIMIT_EXCEEDED']);
    const viaVariable = await post({ query: `query($n: Int!) { ${lists(8, '$n')} }`, variables: { n: 100 } });
    expect(codes(viaVariable)).toEqual(['COST_LIMIT_EXCEEDED']);
  });

  it('refuses batched HTTP requests', async () => {
    const res = await post([{ query: '{ me { id } }' }, { query: '{ me { email } }' }]);
    expect(res.status).toBe(400);
  });

  it('refuses a GET query without a preflight header (CSRF prevention)', async () => {
    const res = await fetch(`${t.gatewayUrl}?query=${encodeURIComponent('{ me { id } }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
  });

  it('answers malformed GraphQL and unknown fields with coded 400 errors', async () => {
    const parse = await post({ query: '{ me { id ' });
    expect(parse.status).toBe(400);
    expect(codes(parse)).toEqual(['GRAPHQL_PARSE_FAILED']);
    const unknown = await post({ query: '{ me { passwordHash } }' });
    expect(unknown.status).toBe(400);
    expect(codes(unknown)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('refuses an oversized body', async () => {
    const res = await post({ query: `{ me { id } }`, variables: { pad: 'x'.repeat(200_000) } });
    expect(res.status).toBe(413);
  });

  it('in production: no introspection, no field suggestions, no stack traces', async () => {
    const intro = await post({ query: '{ __schema { types { name } } }' }, production.url);
    expect(intro.status).toBe(400);
    const typo = await post({ query: '{ me { emial } }' }, production.url);
    expect(typo.errors![0].message).not.toMatch(/Did you mean/);
    const dev = await post({ query: '{ me { emial } }' });
    expect(dev.errors![0].message).toMatch(/Did you mean/);
    const refused = await t.at(production.url).anonymous().raw({ query: '{ me { id } }' });
    expect(codes(refused)).toEqual(['UNAUTHENTICATED']);
    expect(JSON.stringify(refused.errors)).not.toMatch(/stacktrace|at \//);
    const ok = await post({ query: '{ me { email } }' }, production.url);
    expect(ok.data).toEqual({ me: { email: account.email } });
  });

  it('in production: no field suggestions over WebSocket either, for subscriptions and queries alike', async () => {
    const prod = connect(production.url, { authorization: `Bearer ${account.token}` });
    const dev = connect(t.gatewayUrl, { authorization: `Bearer ${account.token}` });
    try {
      for (const query of ['subscription { messageAdded(roomId: "x") { bdy } }', '{ me { emial } }']) {
        const [hidden] = (await prod.subscribe(query).error) as { message: string; extensions?: { code?: string } }[];
        expect(hidden).toMatchObject({
          message: expect.stringMatching(/^Cannot query field "\w+" on type "\w+"\.$/),
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        });
        const [shown] = (await dev.subscribe(query).error) as { message: string }[];
        expect(shown.message).toMatch(/Did you mean/);
      }
    } finally {
      await prod.dispose();
      await dev.dispose();
    }
  });

  it('exposes health and readiness on the gateway and every subgraph', async () => {
    const base = (url: string) => url.replace(/\/graphql$/, '');
    for (const url of [t.gatewayUrl, ...SUBGRAPHS.map((s) => t.subgraphUrl(s))]) {
      expect((await fetch(`${base(url)}/health`)).status).toBe(200);
      expect((await fetch(`${base(url)}/ready`)).status).toBe(200);
    }
  });
});
