import type { ApolloServerPlugin } from '@apollo/server';
import { logger } from '../../../kernel/log';
import type { GatewayContext } from '../../gateway-context';

const log = logger('gateway.access');

/** One line per operation (request id, tenant, user, operation, duration, error codes); echoes x-request-id. */
export const accessLogPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart({ contextValue }) {
    const started = process.hrtime.bigint();
    return {
      async willSendResponse({ response, operationName, errors }) {
        const ctx = contextValue?.ctx;
        if (!ctx) return;
        response.http.headers.set('x-request-id', ctx.requestId);
        log.info(
          {
            requestId: ctx.requestId,
            tenantId: ctx.tenantId,
            userId: ctx.userId,
            operationName: operationName ?? null,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            errors: errors?.map((e) => e.extensions?.code ?? 'ERROR'),
          },
          'operation',
        );
      },
    };
  },
};
