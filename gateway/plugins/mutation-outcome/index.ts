import type { ApolloServerPlugin } from '@apollo/server';
import { KernelErrorCode } from '../../../kernel/errors';
import type { GatewayContext } from '../../gateway-context';

/**
 * A mutation is answered "try again" (503, Retry-After) only while none of its root fields took effect:
 * the gateway runs a mutation's fetches one after another and goes on after one failed, so once a field
 * took effect — before or after the failure — repeating the operation would repeat it. Then the answer is
 * 200 without Retry-After, SERVICE_UNAVAILABLE staying on the fields that failed.
 */
export const mutationOutcomePlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        if (!contextValue.mutated || response.http.status !== 503) return;
        response.http.status = 200;
        response.http.headers.delete('retry-after');
        if (response.body.kind !== 'single') return;
        response.body.singleResult.errors = response.body.singleResult.errors?.map((e) =>
          e.extensions?.code === KernelErrorCode.SERVICE_UNAVAILABLE
            ? {
                ...e,
                message:
                  'A service this field needs is unavailable; other fields of this mutation took effect, so do not repeat the whole operation',
              }
            : e,
        );
      },
    };
  },
};
