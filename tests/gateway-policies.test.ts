import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { composeServices } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { printSubgraphSchema } from '@apollo/subgraph';
import { getIntrospectionQuery, graphqlSync, parse, printSchema, type GraphQLSchema } from 'graphql';
import { policiesFromSupergraph } from '../gateway/policies';
import { METERED_FIELDS } from '../kernel/admission';
import { GATEWAY_POLICIES, type GatewayPolicy } from '../kernel/contracts/gateway-policy';
import { SUBGRAPHS, type SubgraphName } from '../kernel/services';
import { buildSubgraphSchemaFor, type SubgraphDeps } from '../kernel/subgraph';
import { SUBGRAPH_DEFINITIONS } from '../subgraphs';

/**
 * The gateway's policies (which root fields stay open for a suspended tenant, which are metered…) are declared
 * by the subgraph that owns each field and reach the gateway only through the composed supergraph.
 */
const root = resolve(__dirname, '..');
const checkedIn = readFileSync(join(root, 'schema', 'supergraph.graphql'), 'utf8');
let subgraphSdl: Record<SubgraphName, string>;
let composed: string;
let apiSchema: GraphQLSchema;

beforeAll(async () => {
  subgraphSdl = {} as Record<SubgraphName, string>;
  for (const name of SUBGRAPHS) {
    const schema = await buildSubgraphSchemaFor(SUBGRAPH_DEFINITIONS[name], { name } as SubgraphDeps);
    subgraphSdl[name] = printSubgraphSchema(schema);
  }
  const result = composeServices(
    SUBGRAPHS.map((name) => ({ name, url: `http://${name}/graphql`, typeDefs: parse(subgraphSdl[name]) })),
  );
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
  composed = result.supergraphSdl;
  apiSchema = result.schema.toAPISchema().toGraphQLJSSchema();
}, 60_000);

/** What the platform's behaviour rests on (tests/tenant-lifecycle, tests/quotas, tests/realtime cover it). */
const EXPECTED: Record<GatewayPolicy, string[]> = {
  'open-while-suspended': [
    'currentTenant',
    'logout',
    'logoutEverywhere',
    'me',
    'myAccess',
    'myTenants',
    'revokeSession',
    'sessions',
    'switchTenant',
  ],
  'open-while-deleted': ['restoreTenant'],
  'open-over-api-limit': [
    'currentTenant',
    'entitlements',
    'logout',
    'logoutEverywhere',
    'me',
    'myAccess',
    'myTenants',
    'revokeSession',
    'sessions',
    'switchTenant',
    'usage',
  ],
  'uses-messages': ['sendMessage'],
  'uses-members': ['acceptInvitation', 'inviteUser'],
  'viewer-dependent': ['User.email'],
};

describe('gateway policies', () => {
  it('reads from the composed supergraph exactly what the subgraphs declare on their fields', () => {
    const declared: Record<string, string[]> = {};
    for (const name of SUBGRAPHS) {
      for (const [policy, fields] of Object.entries(policiesFromSupergraph(subgraphSdl[name]).toJSON()))
        declared[policy] = [...(declared[policy] ?? []), ...fields].sort();
    }
    expect(policiesFromSupergraph(composed).toJSON()).toEqual(declared);
    expect(declared).toEqual(EXPECTED);
  });

  it('the checked-in supergraph the gateway runs carries the same declarations', () => {
    expect(policiesFromSupergraph(checkedIn).toJSON()).toEqual(policiesFromSupergraph(composed).toJSON());
  });

  it('every root field a call may act as declares the metered resource it uses', () => {
    const policies = policiesFromSupergraph(composed);
    for (const field of METERED_FIELDS)
      expect([field, policies.meteredMetric(field)]).toEqual([field, expect.any(String)]);
  });

  it('refuses a tag that names no gateway policy (a typo is not ignored)', () => {
    const typo = checkedIn.replace(
      /(\n\s+me: User![^\n]*)@tag\(name: "nexus\.open-while-suspended"\)/,
      '$1@tag(name: "nexus.open-while-suspendd")',
    );
    expect(typo).not.toEqual(checkedIn);
    expect(() => policiesFromSupergraph(typo)).toThrow('Query.me: unknown gateway policy "open-while-suspendd"');
  });

  it('refuses a root-field policy declared on another field', () => {
    const misplaced = checkedIn.replace('@tag(name: "nexus.viewer-dependent")', '@tag(name: "nexus.uses-messages")');
    expect(() => policiesFromSupergraph(misplaced)).toThrow('User.email: "uses-messages" applies to root fields only');
  });

  it('leaves tags of other names alone', () => {
    const other = checkedIn.replace('@tag(name: "nexus.viewer-dependent")', '@tag(name: "public")');
    expect(policiesFromSupergraph(other).fields('viewer-dependent').size).toBe(0);
  });

  it('never shows the declarations to clients: the API schema and its introspection are unchanged', () => {
    const api = apiSchema;
    const served = Supergraph.build(checkedIn).apiSchema().toGraphQLJSSchema();
    expect(served.getDirective('tag')).toBeUndefined();
    expect(printSchema(served)).not.toContain('nexus.');
    expect(api.getDirective('tag')).toBeUndefined();
    expect(printSchema(api)).not.toContain('nexus.');
    expect(`${printSchema(api).trim()}\n`).toEqual(readFileSync(join(root, 'schema', 'api.graphql'), 'utf8'));
    const introspection = graphqlSync({ schema: api, source: getIntrospectionQuery() });
    const directives = (introspection.data as { __schema: { directives: { name: string }[] } }).__schema.directives;
    expect(directives.map((d) => d.name)).not.toContain('tag');
  });

  it('knows each policy it is declared with', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(GATEWAY_POLICIES).sort());
  });
});
