import { z } from 'zod';
import { ACCESS_RESTRICTIONS } from '../context';
import { REVOCATIONS_CALL, revocationsPageSchema, revocationsQuerySchema } from '../session-revocations';

/**
 * The gateway's calls to a subgraph outside GraphQL (`POST /internal/<name>`, JSON in and out): which
 * subgraph answers each, and the schemas of its request and response. The gateway's client is typed by
 * call name and checks each answer; the subgraph checks each request before its handler runs (a request
 * that does not match is refused with 400), and must answer every call it owns.
 */

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
const tenantQuery = z.object({ tenantId: z.string() });

export const INTERNAL_CALLS = {
  /** Who an API key acts as (null: no such key, revoked or expired). */
  'verify-api-key': {
    subgraph: 'identity',
    request: z.object({ key: z.string() }),
    response: nullable(
      z.object({ keyId: z.string(), tenantId: z.string(), userId: z.string(), permissions: z.array(z.string()) }),
    ),
  },
  /** A member's current roles and permissions in a tenant (null: no longer a member). */
  'effective-permissions': {
    subgraph: 'identity',
    request: z.object({
      tenantId: z.string(),
      userId: z.string(),
      /** An impersonation's session (a Super Admin's rights there come with it). */
      sessionId: z.string().nullish(),
      authMethod: z.string().optional(),
    }),
    response: nullable(
      z.object({
        roles: z.array(z.string()),
        permissions: z.array(z.string()),
        restrictions: z.array(z.enum(ACCESS_RESTRICTIONS)).optional(),
      }),
    ),
  },
  /** Sessions and API keys revoked since the gateway's last look (kernel/session-revocations.ts). */
  [REVOCATIONS_CALL]: { subgraph: 'identity', request: revocationsQuerySchema, response: revocationsPageSchema },
  /** What the gateways counted (requests, metered fields) since their last flush, at most 100 rows a call; a request with a row that does not match is refused whole (400). */
  'record-usage': {
    subgraph: 'tenancy',
    request: z.array(
      z.object({
        tenantId: z.string(),
        metric: z.string(),
        module: z.string().optional(),
        hour: z.string(),
        amount: z.number(),
      }),
    ),
    response: z.object({ recorded: z.number() }),
  },
  /** A tenant's limits and what is used of them now (null: no such tenant). */
  'quota-status': {
    subgraph: 'tenancy',
    request: tenantQuery,
    response: nullable(z.object({ limits: z.record(z.string(), z.number()), used: z.record(z.string(), z.number()) })),
  },
  /** A tenant's status (null: no such tenant). */
  'tenant-status': { subgraph: 'tenancy', request: tenantQuery, response: nullable(z.object({ status: z.string() })) },
  /** The tenant a verified custom domain belongs to. */
  'tenant-for-host': {
    subgraph: 'tenancy',
    request: z.object({ host: z.string() }),
    response: nullable(z.object({ tenantId: z.string() })),
  },
} as const;

type Calls = typeof INTERNAL_CALLS;
export type InternalCallName = keyof Calls;
/** A subgraph that answers internal calls. */
export type InternalSubgraph = Calls[InternalCallName]['subgraph'];
/** The calls one subgraph answers. */
export type InternalCallOf<S extends InternalSubgraph> = {
  [K in InternalCallName]: Calls[K]['subgraph'] extends S ? K : never;
}[InternalCallName];
export type InternalRequest<K extends InternalCallName> = z.input<Calls[K]['request']>;
export type InternalResponse<K extends InternalCallName> = z.output<Calls[K]['response']>;

/** A subgraph's handlers: one for each call it owns, given the request its schema accepted. */
export type InternalHandlers<S extends InternalSubgraph> = {
  [K in InternalCallOf<S>]: (request: z.output<Calls[K]['request']>) => Promise<InternalResponse<K>>;
};

/** What the subgraph server serves: any subgraph's handlers, looked up by the name in the path. */
export type AnyInternalHandlers = { [S in InternalSubgraph]: InternalHandlers<S> }[InternalSubgraph];

export function isInternalCallName(name: string): name is InternalCallName {
  return Object.hasOwn(INTERNAL_CALLS, name);
}

export type InternalCallOutcome =
  { status: 'not_found' } | { status: 'bad_request'; issues: string } | { status: 'answered'; result: unknown };

/** Checks a request against its call's schema and runs the handler on what the schema accepted. */
export async function serveInternalCall(
  handlers: AnyInternalHandlers | undefined,
  name: string,
  body: unknown,
): Promise<InternalCallOutcome> {
  if (!handlers || !isInternalCallName(name) || !Object.hasOwn(handlers, name)) return { status: 'not_found' };
  const parsed = INTERNAL_CALLS[name].request.safeParse(body);
  if (!parsed.success) return { status: 'bad_request', issues: z.prettifyError(parsed.error) };
  // The handler of `name` takes what the schema of `name` accepted.
  const handler = (handlers as Record<InternalCallName, (request: unknown) => Promise<unknown>>)[name];
  return { status: 'answered', result: await handler(parsed.data) };
}

/** Checks an answer against its call's schema: the response, or the reason it was refused. */
export function parseInternalResponse<K extends InternalCallName>(
  name: K,
  answer: unknown,
): { ok: true; result: InternalResponse<K> } | { ok: false; issues: string } {
  const parsed = INTERNAL_CALLS[name].response.safeParse(answer);
  if (!parsed.success) return { ok: false, issues: z.prettifyError(parsed.error) };
  return { ok: true, result: parsed.data as InternalResponse<K> };
}
