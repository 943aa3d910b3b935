import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { CorsPolicy, corsMiddleware } from '../cors/cors';
import type { GatewayOptions } from '../gateway';
import type { GatewayContext } from '../gateway-context';
import type { GatewayServices } from '../gateway-services';
import { hooksProxy } from '../hooks-proxy';
import { errorHandler } from './error-handler';
import { graphqlContext } from './graphql-context';
import { healthHandler, readinessHandler } from './readiness';
import { ssoTenantHint } from './sso-tenant';

export interface HttpPipeline {
  app: express.Express;
  httpServer: Server;
  cors: CorsPolicy;
}

/** The express app before any route: CORS first (a preflight is answered before anything else runs). */
export function createHttpPipeline(options: Pick<GatewayOptions, 'trustProxy' | 'corsOrigins'>): HttpPipeline {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  const cors = new CorsPolicy(options.corsOrigins ?? []);
  app.use(corsMiddleware(cors));
  return { app, httpServer: createServer(app), cors };
}

/**
 * The routes, in the order express tries them: /health, /ready and the ledger's verifier key, the hooks subgraphs serve (webhooks, single
 * sign-on), GraphQL (a bounded JSON body, then Apollo Server), and last the error handler.
 */
export function mountRoutes(
  app: express.Express,
  options: GatewayOptions,
  services: GatewayServices,
  apollo: ApolloServer<GatewayContext>,
): void {
  const { subgraphUrls, revocations, hosts, admission } = services;
  app.get('/health', healthHandler);
  app.get('/ready', readinessHandler(subgraphUrls, revocations));
  app.get('/.well-known/nexus-ledger-key', (_req, res) => {
    if (!options.ledgerVerifierKey) res.status(404).type('text/plain').send('No ledger key is configured\n');
    else res.type('text/plain').send(`${options.ledgerVerifierKey}\n`);
  });
  app.use(hooksProxy((name) => subgraphUrls.get(name), options.contextPrivateKey, ssoTenantHint(hosts), admission));
  app.use(
    '/graphql',
    express.json({ limit: options.maxBodyBytes }),
    expressMiddleware(apollo, { context: graphqlContext(services) }),
  );
  app.use(errorHandler);
}

/** The address express gives HTTP requests (req.ip, honouring TRUST_PROXY), for a request express did not route (a handshake). */
export function clientAddressOf(app: express.Express): (req: IncomingMessage) => string | null {
  return (req) =>
    (
      Object.create(app.request, {
        app: { value: app },
        headers: { value: req.headers },
        socket: { value: req.socket },
      }) as express.Request
    ).ip ?? null;
}
