// An OpenID Provider for integration tests, run as a child process by tests/support/oidc-op.ts.
//
// Reads its clients and accounts from the OIDC_OP_CONFIG environment variable (JSON:
// { clients: [{ client_id, client_secret, redirect_uris }], accounts: { [sub]: { email, email_verified? (null: left out), name?, groups?, idTokenKey? } } }),
// listens on 127.0.0.1 on a free port and prints one line `OIDC_OP_ISSUER <issuer>` on stdout once it accepts requests.
// Sign-in goes through the provider's development interactions (a login form and a consent form, plain HTML posts).
// The process exits when its stdin closes, so it never outlives the test process that started it.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import process from 'node:process';
import Provider from 'oidc-provider';

const READY_PREFIX = 'OIDC_OP_ISSUER ';

function readConfig() {
  const raw = process.env.OIDC_OP_CONFIG;
  if (!raw) throw new Error('OIDC_OP_CONFIG is not set');
  const config = JSON.parse(raw);
  if (!Array.isArray(config.clients) || typeof config.accounts !== 'object' || config.accounts === null) {
    throw new Error('OIDC_OP_CONFIG must have "clients" (array) and "accounts" (object)');
  }
  return config;
}

/** The claims released for an account; email_verified defaults to true (null leaves it out) and groups to an empty list. */
function accountClaims(sub, account) {
  const claims = {
    sub,
    email: account.email,
    groups: account.groups ?? [],
  };
  if (account.email_verified !== null) claims.email_verified = account.email_verified ?? true;
  if (account.name !== undefined) claims.name = account.name;
  return claims;
}

const b64url = (value) => Buffer.from(value).toString('base64url');

/**
 * An account with `idTokenKey` gets its ID token from the token endpoint signed again with a key this provider does
 * not publish: 'foreign' keeps the published key id (a forger who knows it), 'foreign-kid' names a key id of its own.
 * Everything else in the token (claims, nonce, at_hash) stays as the provider issued it.
 */
function resignIdToken(idToken, mode, foreignKey) {
  const [encodedHeader, encodedPayload] = idToken.split('.');
  const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
  const forgedHeader = b64url(
    JSON.stringify({ ...header, alg: 'RS256', kid: mode === 'foreign-kid' ? 'not-published' : header.kid }),
  );
  const signature = sign('sha256', Buffer.from(`${forgedHeader}.${encodedPayload}`), foreignKey).toString('base64url');
  return `${forgedHeader}.${encodedPayload}.${signature}`;
}

async function main() {
  const config = readConfig();

  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // The secret is accepted in the Authorization header and in the form body alike.
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // Scope-requested claims go into the ID token as well, not only into the userinfo response.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
    },
    jwks: { keys: [{ ...signingKey, kid: 'test-op-rs256', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(_ctx, sub) {
      const account = Object.prototype.hasOwnProperty.call(config.accounts, sub) ? config.accounts[sub] : undefined;
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return accountClaims(sub, account);
        },
      };
    },
    // Errors shown to the user agent (those that cannot be redirected to the client) as JSON, readable in test failures.
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });

  // Static clients are validated lazily; load each one now so invalid metadata fails the start, not the first sign-in.
  for (const client of config.clients) {
    const loaded = await provider.Client.find(client.client_id);
    if (!loaded) throw new Error(`client ${client.client_id} could not be loaded`);
  }

  provider.use(async (ctx, next) => {
    await next();
    const idToken = ctx.path === '/token' && ctx.method === 'POST' ? ctx.body?.id_token : undefined;
    if (typeof idToken !== 'string') return;
    const { sub } = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString('utf8'));
    const mode = Object.prototype.hasOwnProperty.call(config.accounts, sub)
      ? config.accounts[sub].idTokenKey
      : undefined;
    if (mode === 'foreign' || mode === 'foreign-kid')
      ctx.body = { ...ctx.body, id_token: resignIdToken(idToken, mode, foreignKey) };
  });

  server.on('request', provider.callback());
  process.stdout.write(`${READY_PREFIX}${issuer}\n`);

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error) => {
  const description = error?.error_description ? ` (${error.error_description})` : '';
  process.stderr.write(`oidc-op-server failed to start${description}: ${error?.stack ?? error}\n`);
  process.exit(1);
});
