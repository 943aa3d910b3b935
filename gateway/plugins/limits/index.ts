import type { ApolloServerPlugin } from '@apollo/server';
import { checkLimits, type QueryLimits } from '../../limits';

/** Apollo Server plugin: refuses over-limit operations with HTTP 400 before any subgraph is called. */
export function limitsPlugin(limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, request }) {
          const violation = checkLimits(schema, document, operationName, request.variables ?? {}, limits);
          if (violation) throw violation;
        },
      };
    },
  };
}
