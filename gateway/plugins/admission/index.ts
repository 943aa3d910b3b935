import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLObjectType, Kind, getNamedType, type FragmentDefinitionNode, type GraphQLSchema } from 'graphql';
import { AppError, KernelErrorCode } from '../../../kernel/errors';
import type { TenantAdmission } from '../../admission';
import type { GatewayContext } from '../../gateway-context';
import { rootFields } from '../../usage';

const SESSION_FIELDS = new WeakMap<GraphQLSchema, Set<string>>();

/**
 * Root fields that sign someone in or move them to another tenant: every field whose result carries an
 * `accessToken` (login, register, refreshSession, switchTenant, acceptInvitation, completeSsoLogin,
 * verifyLoginChallenge, impersonateTenant…), read from the schema itself so a new one is covered too.
 */
export function sessionFields(schema: GraphQLSchema): Set<string> {
  let fields = SESSION_FIELDS.get(schema);
  if (!fields) {
    fields = new Set();
    for (const root of [schema.getQueryType(), schema.getMutationType()]) {
      for (const field of Object.values(root?.getFields() ?? {})) {
        const type = getNamedType(field.type);
        if (type instanceof GraphQLObjectType && 'accessToken' in type.getFields()) fields.add(field.name);
      }
    }
    SESSION_FIELDS.set(schema, fields);
  }
  return fields;
}

/** HTTP status of a response whose only errors are admission refusals and that did nothing. */
const REFUSAL_STATUS: Record<string, number> = {
  QUOTA_EXCEEDED: 429,
  TENANT_SUSPENDED: 403,
  TRIAL_EXPIRED: 403,
  TENANT_DELETED: 403,
};

/**
 * Admits each GraphQL operation for its tenant (refused before any subgraph is called when its status or
 * API-call limit says so), passes the grant to the subgraphs in the signed context, and settles it (and any
 * grant made on the way for a tenant a subgraph asked about) with what the subgraphs reported creating.
 * Anonymous and system callers are not metered; subscriptions are counted by their events' lookups.
 *
 * A field that signs someone in or changes tenant must be the only root field of its operation (else 400
 * BAD_USER_INPUT): the fields after it would run as the new session, in a tenant this operation was never
 * admitted for.
 */
export function admissionPlugin(admission: TenantAdmission): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didResolveOperation({ operation, document, request, schema }) {
          if (!operation) return;
          const fragments = document.definitions.filter(
            (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
          );
          const fields = rootFields(operation, fragments, request.variables).filter((f) => f.name !== '__typename');
          const opening = fields.find((f) => sessionFields(schema).has(f.name));
          if (opening && fields.length > 1) {
            throw new AppError(
              KernelErrorCode.BAD_USER_INPUT,
              `${opening.name} signs someone in: send it as the only field of its operation`,
              {},
              400,
            );
          }
          const tenantId = contextValue?.ctx?.tenantId;
          if (!tenantId) return;
          const metered =
            contextValue.ctx.authMethod !== 'anonymous' &&
            contextValue.ctx.authMethod !== 'system' &&
            operation.operation !== 'subscription';
          const grant = await admission.grant(
            tenantId,
            operation.operation,
            fields.map((f) => f.name),
            { metered },
          );
          if (grant.refused) throw grant.refused;
          (contextValue.grants ??= new Map()).set(tenantId, grant);
        },
        async willSendResponse({ contextValue: done, response }) {
          for (const grant of done.grants?.values() ?? []) admission.settle(grant, done.effects?.get(grant.tenantId));
          if (response.body.kind !== 'single' || response.http.status) return;
          const { data, errors } = response.body.singleResult;
          const nothingDone = !data || Object.values(data).every((v) => v === null);
          const statuses = (errors ?? []).map((e) => REFUSAL_STATUS[String(e.extensions?.code)]);
          if (statuses.length && nothingDone && statuses.every((s) => s !== undefined && s === statuses[0]))
            response.http.status = statuses[0];
        },
      };
    },
  };
}
