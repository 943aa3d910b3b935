import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';

/**
 * Why a member's rights are cut down to their own account for now (a tenant's security policy): each is
 * also the error code a refused call gets, so a client knows which screen to show.
 */
export const ACCESS_RESTRICTIONS = ['TWO_FACTOR_SETUP_REQUIRED', 'EMAIL_VERIFICATION_REQUIRED'] as const;
export type AccessRestriction = (typeof ACCESS_RESTRICTIONS)[number];

const allowanceSchema = z.object({
  /** Units this call may still use (held for it at the gateway). */
  granted: z.number().int().min(0),
  /** What the tenant has left besides, as the gateway knows it (e.g. for invitations not yet accepted). */
  room: z.number().int().min(0),
  limit: z.number().int().min(0),
});
export type Allowance = z.infer<typeof allowanceSchema>;

/** The gateway's admission of one tenant for one call (kernel/admission.ts says how subgraphs apply it). */
export const admissionSchema = z.object({
  tenantId: z.uuid(),
  /** Refused (status, or the API-call limit): what to answer when the call would act for the tenant. */
  refused: z
    .object({
      code: z.string().max(64),
      message: z.string().max(300),
      metric: z.string().max(32).optional(),
      limit: z.number().optional(),
    })
    .nullable(),
  /** Per metered resource; null: nothing is metered for this call (system callers, or no figures yet). */
  allowance: z.object({ messages: allowanceSchema.optional(), members: allowanceSchema.optional() }).nullable(),
});
export type Admission = z.infer<typeof admissionSchema>;

/** Who is calling, for which tenant, with which rights. Built by the gateway, signed, verified by subgraphs. */
export const requestContextSchema = z.object({
  requestId: z.string().min(1).max(128),
  tenantId: z.uuid().nullable(),
  userId: z.uuid().nullable(),
  sessionId: z.uuid().nullable(),
  roles: z.array(z.string()).max(64),
  permissions: z.array(z.string()).max(512),
  authMethod: z.enum(['anonymous', 'password', 'api_key', 'sso', 'system']),
  impersonatorId: z.uuid().nullable().optional(),
  restrictions: z.array(z.enum(ACCESS_RESTRICTIONS)).max(ACCESS_RESTRICTIONS.length).optional(),
  /** The client's WebSocket connection at the gateway, for calls made over one (presence ends with it). */
  connectionId: z.string().min(1).max(64).optional(),
  /** Where the call came from, as the gateway saw it (for the audit log). */
  client: z.object({ ip: z.string().max(64).nullable(), userAgent: z.string().max(512).nullable() }).optional(),
  /** The gateway's admissions of tenants this call may act for (kernel/admission.ts). */
  admissions: z.array(admissionSchema).max(4).optional(),
});
export type RequestContext = z.infer<typeof requestContextSchema>;

/** Per-request state held by a subgraph while it serves one request. */
export interface RequestState {
  ctx: RequestContext;
  /** Extensions a resolver wants returned to the gateway alongside the result. */
  responseExtensions: Record<string, unknown>;
}

const storage = new AsyncLocalStorage<RequestState>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run({ ctx, responseExtensions: {} }, fn);
}

/** Like runWithContext, with a state the caller keeps (to read what resolvers put in it afterwards). */
export function runWithState<T>(state: RequestState, fn: () => T): T {
  return storage.run(state, fn);
}

/** The current request's context. Throws when called outside a request: that is always a bug. */
export function currentContext(): RequestContext {
  const state = storage.getStore();
  if (!state) throw new Error('No request context is set: this code must run inside a request');
  return state.ctx;
}

export function currentRequestState(): RequestState {
  const state = storage.getStore();
  if (!state) throw new Error('No request context is set: this code must run inside a request');
  return state;
}

/** For log lines: the context if there is one, never throws. */
export function peekContext(): RequestContext | undefined {
  return storage.getStore()?.ctx;
}

export function anonymousContext(requestId: string): RequestContext {
  return {
    requestId,
    tenantId: null,
    userId: null,
    sessionId: null,
    roles: [],
    permissions: [],
    authMethod: 'anonymous',
  };
}

export function systemContext(requestId: string, tenantId: string | null = null): RequestContext {
  return {
    requestId,
    tenantId,
    userId: null,
    sessionId: null,
    roles: ['system'],
    permissions: ['*'],
    authMethod: 'system',
  };
}
