import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { composeServices } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { printSubgraphSchema } from '@apollo/subgraph';
import { getIntrospectionQuery, graphqlSync, parse, printSchema, type GraphQLSchema } from 'graphql';
import { LoadedSupergraph } from '../gateway/apollo';
import { declaredPolicies, policiesFromSupergraph } from '../gateway/policies';
import { statusRefusal } from '../gateway/suspension';
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
    'Mutation.billingPortalUrl',
    'Mutation.cancelSubscription',
    'Mutation.changePlan',
    'Mutation.logout',
    'Mutation.logoutEverywhere',
    'Mutation.resumeSubscription',
    'Mutation.revokeSession',
    'Mutation.setBillingEmail',
    'Mutation.startCheckout',
    'Mutation.switchTenant',
    'Query.billingAccount',
    'Query.currentTenant',
    'Query.invoices',
    'Query.me',
    'Query.myAccess',
    'Query.myTenants',
    'Query.plans',
    'Query.sessions',
    'Query.upcomingInvoice',
  ],
  'open-while-deleted': ['Mutation.restoreTenant'],
  'open-over-api-limit': [
    'Mutation.billingPortalUrl',
    'Mutation.cancelSubscription',
    'Mutation.changePlan',
    'Mutation.logout',
    'Mutation.logoutEverywhere',
    'Mutation.resumeSubscription',
    'Mutation.revokeSession',
    'Mutation.setBillingEmail',
    'Mutation.startCheckout',
    'Mutation.switchTenant',
    'Query.billingAccount',
    'Query.currentTenant',
    'Query.entitlements',
    'Query.invoices',
    'Query.me',
    'Query.myAccess',
    'Query.myTenants',
    'Query.plans',
    'Query.sessions',
    'Query.upcomingInvoice',
    'Query.usage',
  ],
  'uses-messages': ['Mutation.sendMessage'],
  'uses-members': ['Mutation.acceptInvitation', 'Mutation.inviteUser'],
  'viewer-dependent': ['User.email'],
};

/** The checked-in supergraph with `replace` applied (which must change it). */
function edited(search: string | RegExp, replace: string): string {
  const sdl = checkedIn.replace(search, replace);
  expect(sdl).not.toEqual(checkedIn);
  return sdl;
}

const NEXUS_TAG = / @tag\(name: "nexus\.[a-z-]+"\)/g;

describe('gateway policies', () => {
  it('reads from the composed supergraph exactly what the subgraphs declare on their fields', () => {
    const declared: Record<string, string[]> = {};
    for (const name of SUBGRAPHS) {
      for (const [policy, fields] of Object.entries(declaredPolicies(subgraphSdl[name]).toJSON()))
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
      expect([field, policies.meteredMetric('mutation', field)]).toEqual([field, expect.any(String)]);
  });

  it('refuses a supergraph composed without the declarations, naming what it lacks', () => {
    const bare = edited(NEXUS_TAG, '');
    expect(declaredPolicies(bare).toJSON()).toEqual({});
    let message = '';
    try {
      policiesFromSupergraph(bare);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const field of METERED_FIELDS) expect(message).toContain(`Mutation.${field}: declares no "uses-*" policy`);
    for (const policy of ['open-while-suspended', 'open-over-api-limit', 'open-while-deleted'])
      expect(message).toContain(`no field declares "${policy}"`);
    // The gateway does not start on it.
    expect(() => new LoadedSupergraph(bare)).toThrow('The supergraph lacks gateway policies the gateway needs');
  });

  it('refuses a supergraph where one metered field or one policy the gateway needs is missing', () => {
    const unmetered = edited(/(\n\s+sendMessage\([^\n]*) @tag\(name: "nexus\.uses-messages"\)/, '$1');
    expect(() => policiesFromSupergraph(unmetered)).toThrow('Mutation.sendMessage: declares no "uses-*" policy');
    const neverOpen = edited(/ @tag\(name: "nexus\.open-while-suspended"\)/g, '');
    expect(() => policiesFromSupergraph(neverOpen)).toThrow('no field declares "open-while-suspended"');
    const overLimit = edited(/ @tag\(name: "nexus\.open-over-api-limit"\)/g, '');
    expect(() => policiesFromSupergraph(overLimit)).toThrow('no field declares "open-over-api-limit"');
  });

  it('refuses more than one metered resource on a field', () => {
    const both = edited(
      /(\n\s+inviteUser\([^\n]*@tag\(name: "nexus\.uses-members"\))/,
      '$1 @tag(name: "nexus.uses-messages")',
    );
    expect(() => declaredPolicies(both)).toThrow(
      'Mutation.inviteUser: declares both "uses-members" and "uses-messages" (one "uses-*" at most)',
    );
  });

  it('keys root fields by their root type: a policy on Query.presence leaves Subscription.presence alone', () => {
    const sdl = edited(
      /(\n\s+presence\(id: ID!\): Presence @join__field\(graph: MESSAGING\))/,
      '$1 @tag(name: "nexus.open-while-suspended") @tag(name: "nexus.open-over-api-limit")',
    );
    const policies = policiesFromSupergraph(sdl);
    expect(policies.rootHas('open-while-suspended', 'query', 'presence')).toBe(true);
    expect(policies.rootHas('open-while-suspended', 'subscription', 'presence')).toBe(false);
    expect(statusRefusal('suspended', 'query', ['presence'], policies)).toBeNull();
    expect(statusRefusal('suspended', 'subscription', ['presence'], policies)?.extensions.code).toBe(
      'TENANT_SUSPENDED',
    );
    // Today's declarations, by the operation they belong to.
    const current = policiesFromSupergraph(checkedIn);
    expect(statusRefusal('suspended', 'query', ['me', '__typename'], current)).toBeNull();
    expect(statusRefusal('suspended', 'mutation', ['logout'], current)).toBeNull();
    expect(statusRefusal('suspended', 'mutation', ['me'], current)).not.toBeNull();
    expect(statusRefusal('deleted', 'mutation', ['restoreTenant'], current)).toBeNull();
    expect(current.meteredMetric('mutation', 'sendMessage')).toBe('messages');
    expect(current.meteredMetric('query', 'sendMessage')).toBeNull();
  });

  it('refuses a declaration anywhere but on a field of an object type', () => {
    const cases: [string, string][] = [
      ['interface Probe { x: String @tag(name: "nexus.viewer-dependent") }', 'Probe.x'],
      ['type Probe @tag(name: "nexus.viewer-dependent") { x: String }', 'Probe'],
      ['interface Probe @tag(name: "nexus.open-while-suspended") { x: String }', 'Probe'],
      ['type Probe { x(a: Int @tag(name: "nexus.viewer-dependent")): String }', 'Probe.x(a:)'],
      ['input ProbeInput { a: Int @tag(name: "nexus.viewer-dependent") }', 'ProbeInput.a'],
      ['enum ProbeEnum { A @tag(name: "nexus.viewer-dependent") B }', 'ProbeEnum.A'],
      ['scalar Probe @tag(name: "nexus.viewer-dependent")', 'Probe'],
      ['union Probe @tag(name: "nexus.viewer-dependent") = User', 'Probe'],
      ['extend schema @tag(name: "nexus.viewer-dependent")', 'schema'],
    ];
    for (const [sdl, coordinate] of cases)
      expect(() => policiesFromSupergraph(`${checkedIn}\n${sdl}\n`)).toThrow(
        `${coordinate}: "${sdl.match(/nexus\.([a-z-]+)/)![1]}" applies to fields of object types only`,
      );
    const onArgument = edited('presence(id: ID!)', 'presence(id: ID! @tag(name: "nexus.open-while-suspended"))');
    expect(() => policiesFromSupergraph(onArgument)).toThrow(
      'Query.presence(id:): "open-while-suspended" applies to fields of object types only',
    );
    const onInput = edited(
      /(\ninput SendMessageInput\n[^{]*\{\n\s+roomId: ID!)/,
      '$1 @tag(name: "nexus.viewer-dependent")',
    );
    expect(() => policiesFromSupergraph(onInput)).toThrow(
      'SendMessageInput.roomId: "viewer-dependent" applies to fields',
    );
  });

  it('keeps the API schema, routes and policies it had when an update cannot be read', () => {
    const loaded = new LoadedSupergraph(checkedIn);
    let listener: ((update: { apiSchema: GraphQLSchema; coreSupergraphSdl: string }) => void) | undefined;
    loaded.watch({
      onSchemaLoadOrUpdate: (l: typeof listener) => {
        listener = l;
        return () => {};
      },
    } as unknown as Parameters<LoadedSupergraph['watch']>[0]);
    const served = Supergraph.build(checkedIn).apiSchema().toGraphQLJSSchema();
    listener!({ apiSchema: served, coreSupergraphSdl: checkedIn });
    const before = { apiSchema: loaded.apiSchema, routes: loaded.routes, policies: loaded.policies };
    expect(before.apiSchema).toBe(served);
    expect(before.routes.size).toBeGreaterThan(0);

    const bare = checkedIn.replace(NEXUS_TAG, '');
    const next = Supergraph.build(bare).apiSchema().toGraphQLJSSchema();
    expect(() => listener!({ apiSchema: next, coreSupergraphSdl: bare })).not.toThrow();
    expect({ apiSchema: loaded.apiSchema, routes: loaded.routes, policies: loaded.policies }).toEqual(before);
    expect(loaded.apiSchema).toBe(served);
    expect(loaded.policies).toBe(before.policies);
    expect(loaded.routes).toBe(before.routes);

    listener!({ apiSchema: next, coreSupergraphSdl: checkedIn });
    expect(loaded.apiSchema).toBe(next);
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
