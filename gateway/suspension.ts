import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { AppError } from '../kernel/errors';
import type { GatewayContext } from './signed-data-source';
import type { TenantStatus } from './tenant-status';

/**
 * What members of a suspended tenant (or one whose trial ended) may still do: see their account,
 * sessions and the tenant's status, sign out, and move to another tenant (billing operations join this
 * list when they exist). A deleted tenant's owner may also restore it.
 */
const ALLOWED_WHILE_SUSPENDED = new Set([
  'currentTenant',
  'myTenants',
  'me',
  'myAccess',
  'sessions',
  'switchTenant',
  'logout',
  'logoutEverywhere',
  'revokeSession',
  '__typename',
]);

/** The operation's root field names (a fragment at the root counts as one unnamed field). */
export function rootFields(operation: OperationDefinitionNode): string[] {
  return operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : `#${s.kind}`));
}

const ALLOWED_WHILE_DELETED = new Set([...ALLOWED_WHILE_SUSPENDED, 'restoreTenant']);

const REFUSALS: Record<Exclude<TenantStatus, 'active' | 'unknown'>, { code: string; message: string; allowed: Set<string> }> = {
  suspended: { code: 'TENANT_SUSPENDED', message: 'This tenant is suspended; only its status, your account and billing are available', allowed: ALLOWED_WHILE_SUSPENDED },
  trial_expired: { code: 'TRIAL_EXPIRED', message: "This tenant's trial has ended; only its status, your account and billing are available", allowed: ALLOWED_WHILE_SUSPENDED },
  deleted: { code: 'TENANT_DELETED', message: 'This tenant is deleted; its owner can still restore it', allowed: ALLOWED_WHILE_DELETED },
};

/** Refuses operations of members of a suspended, expired or deleted tenant (HTTP 403) except the allowed ones. */
export const suspensionPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart({ contextValue }) {
    const status = contextValue?.tenantStatus;
    if (!status || status === 'active' || status === 'unknown') return {};
    const refusal = REFUSALS[status];
    return {
      async didResolveOperation({ operation }) {
        if (!operation) return;
        const refused = rootFields(operation).filter((f) => !refusal.allowed.has(f));
        if (refused.length > 0) throw new AppError(refusal.code, refusal.message, {}, 403);
      },
    };
  },
};
