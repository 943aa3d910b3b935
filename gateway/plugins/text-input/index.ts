import type { ApolloServerPlugin } from '@apollo/server';
import { checkInputText } from '../../text-input';

/** Apollo Server plugin: refuses an operation carrying text that cannot be stored (gateway/text-input.ts) with HTTP 400 before any subgraph is called. */
export const textInputPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ document, request }) {
        const refused = checkInputText(document, request.variables);
        if (refused) throw refused;
      },
    };
  },
};
