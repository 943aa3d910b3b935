import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { AppError } from '../kernel/errors';
import type { GatewayContext } from './signed-data-source';

/**
 * What members of a suspended tenant may still do: see their account, sessions and the tenant's status,
 * sign out, and move to another tenant (billing operations join this list when they exist).
 */
export const ALLOWED_WHILE_SUSPENDED = new Set([
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

function rootFields(operation: OperationDefinitionNode): string[] {
  return operation.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : `#${s.kind}`));
}

/** Refuses operations of a suspended tenant's members (HTTP 403, `TENANT_SUSPENDED`) except the allowed ones. */
export const suspensionPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart({ contextValue }) {
    if (!contextValue?.tenantSuspended) return {};
    return {
      async didResolveOperation({ operation }) {
        if (!operation) return;
        const refused = rootFields(operation).filter((f) => !ALLOWED_WHILE_SUSPENDED.has(f));
        if (refused.length > 0) throw new AppError('TENANT_SUSPENDED', 'This tenant is suspended; only its status, your account and billing are available', {}, 403);
      },
    };
  },
};
