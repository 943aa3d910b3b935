import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type FragmentDefinitionNode } from 'graphql';
import { AppError } from '../kernel/errors';
import type { GatewayContext } from './signed-data-source';
import { statusRefusal } from './suspension';
import type { TenantStatusResolver } from './tenant-status';
import { rootFieldNames, type UsageMeter } from './usage';

/**
 * Whether something may be done for a tenant now, decided the same way on every path into it: GraphQL over
 * HTTP and WebSocket (signed-in members, API keys, anonymous callers on its custom domain) and hooks that
 * act for it (kernel/http/hooks.ts `TENANT_HOOKS`). First its status — a suspended, expired or deleted
 * tenant may only do what gateway/suspension.ts allows (403 TENANT_SUSPENDED, TRIAL_EXPIRED,
 * TENANT_DELETED) — then, for metered callers, its hard limits (429 QUOTA_EXCEEDED). What took effect is
 * counted through `count`.
 */
export class TenantAdmission {
  constructor(
    private readonly statuses: TenantStatusResolver,
    private readonly usage: UsageMeter,
  ) {}

  /** The refusal of doing `fields` (root fields, or the mutation a hook acts as) for `tenantId`; null when admitted. */
  async check(tenantId: string, fields: readonly string[], options: { metered: boolean }): Promise<AppError | null> {
    const refused = statusRefusal(await this.statuses.status(tenantId), fields);
    if (refused) return refused;
    if (!options.metered) return null;
    const over = await this.usage.exceeded(tenantId, fields);
    if (!over) return null;
    return new AppError('QUOTA_EXCEEDED', `This tenant has used its ${over.metric} limit (${over.limit}) for now`, { metric: over.metric, limit: over.limit }, 429);
  }

  /** One metered call for `tenantId`, with the metered fields that took effect. */
  count(tenantId: string, effects: readonly string[]): void {
    this.usage.count(tenantId, effects);
  }
}

/**
 * Admits each GraphQL operation for its tenant (refused with the status above before any subgraph is
 * called) and counts metered calls with what took effect: the data sources note each metered root field a
 * subgraph ran without error (`GatewayContext.effects`), so a refused alias never hides a stored one.
 * Anonymous and system callers are not metered; subscriptions are counted by their events' lookups.
 */
export function admissionPlugin(admission: TenantAdmission): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      const tenantId = contextValue?.ctx?.tenantId;
      if (!tenantId) return {};
      const metered = contextValue.ctx.authMethod !== 'anonymous' && contextValue.ctx.authMethod !== 'system';
      let counted = false;
      return {
        async didResolveOperation({ operation, document }) {
          if (!operation) return;
          const fragments = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
          const meter = metered && operation.operation !== 'subscription';
          const refused = await admission.check(tenantId, rootFieldNames(operation, fragments), { metered: meter });
          if (refused) throw refused;
          counted = meter;
        },
        async willSendResponse({ contextValue: done }) {
          if (counted) admission.count(tenantId, done.effects ?? []);
        },
      };
    },
  };
}
