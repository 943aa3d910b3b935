import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** A user known to the test OpenID Provider; `email_verified` defaults to true and `groups` to []. */
export interface OpAccount {
  /** The `email` claim; a list makes it multi-valued (not standard, but some providers send one). */
  email: string | string[];
  /** As sent (some providers send a string); null: the claim is left out. */
  email_verified?: boolean | string | null;
  name?: string;
  groups?: string[];
  /**
   * The ID token from the token endpoint is signed with a key absent from the provider's JWKS: 'foreign' under the
   * published key id, 'foreign-kid' under a key id of its own. Default: the provider's own key.
   */
  idTokenKey?: 'foreign' | 'foreign-kid';
}

/** A confidential client (client_secret_basic or client_secret_post), authorization code flow with PKCE S256. */
export interface OpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface TestOp {
  /** e.g. http://127.0.0.1:<port>; discovery lives at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /**
   * Drives a browser-less sign-in: fetches `authorizationUrl` (an authorization request our relying party built),
   * follows the OP's own login and consent interactions as user `sub` with a cookie jar and manual redirects, and
   * resolves with the final redirect location back to the client (redirect_uri?code=…&state=… or ?error=…).
   * Never follows that last redirect.
   */
  signIn(authorizationUrl: string, sub: string): Promise<string>;
  stop(): Promise<void>;
}

const SERVER_SCRIPT = resolve(__dirname, 'oidc-op-server.mjs');
const READY_PREFIX = 'OIDC_OP_ISSUER ';
/** It is ready in about half a second; one that is not within this is stopped and started once more. */
const START_TIMEOUT_MS = 15_000;
const MAX_STEPS = 20;

/**
 * Starts a real OpenID Provider (oidc-provider, in a child process since it is ESM-only) on 127.0.0.1.
 * Rejects with the child's output if it fails to start.
 */
export async function startOidcProvider(config: {
  clients: OpClient[];
  accounts: Record<string, OpAccount>;
}): Promise<TestOp> {
  try {
    return await startOnce(config);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('did not start')) throw err;
    return startOnce(config);
  }
}

function startOnce(config: { clients: OpClient[]; accounts: Record<string, OpAccount> }): Promise<TestOp> {
  const child = spawn(process.execPath, [SERVER_SCRIPT], {
    env: { ...process.env, OIDC_OP_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-64_000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  return new Promise<TestOp>((resolvePromise, reject) => {
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(`test OpenID Provider ${reason}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);

    child.once('error', (error) => fail(`could not be spawned: ${error.message}`));
    child.once('exit', (code, signal) => fail(`exited before it was ready (code ${code}, signal ${signal})`));
    child.stdin.on('error', () => undefined);

    const onStdout = (chunk: string) => {
      stdout = (stdout + chunk).slice(-64_000);
      if (settled) return;
      const line = stdout.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (!line) return;
      settled = true;
      clearTimeout(timer);
      const issuer = line.slice(READY_PREFIX.length).trim();
      // Once ready, the child must not keep the test process alive; it exits by itself when its stdin closes.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr])
        (stream as unknown as { unref?: () => void }).unref?.();
      resolvePromise({
        issuer,
        signIn: async (authorizationUrl, sub) => {
          if (!Object.prototype.hasOwnProperty.call(config.accounts, sub))
            throw new Error(`the test OpenID Provider has no account "${sub}"`);
          return signIn(issuer, authorizationUrl, sub);
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.ref();
            child.stdin.end();
            child.kill('SIGTERM');
            await exited;
          }
        },
      });
    };
    child.stdout.on('data', onStdout);
  });
}

async function signIn(issuer: string, authorizationUrl: string, sub: string): Promise<string> {
  const origin = new URL(issuer).origin;
  let url = new URL(authorizationUrl);
  if (url.origin !== origin) throw new Error(`authorization URL ${authorizationUrl} is not served by ${issuer}`);
  const jar = new CookieJar();
  let method: 'GET' | 'POST' = 'GET';
  let form: URLSearchParams | undefined;

  for (let step = 0; step < MAX_STEPS; step++) {
    const cookie = jar.header(url);
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(cookie ? { cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form?.toString(),
    });
    jar.store(res.headers.getSetCookie(), url);

    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const location = res.headers.get('location');
      if (!location) throw new Error(`${method} ${url.pathname} answered ${res.status} without a Location`);
      const next = new URL(location, url);
      // The first redirect that leaves the OP is the authorization response to the client.
      if (next.origin !== origin) return next.href;
      url = next;
      method = 'GET';
      form = undefined;
      continue;
    }

    const body = await res.text();
    if (res.status !== 200) throw new Error(`${method} ${url.pathname} answered ${res.status}: ${body.slice(0, 2000)}`);
    const interaction = readInteractionForm(body);
    if (!interaction)
      throw new Error(`${method} ${url.pathname} answered a page without an interaction form: ${body.slice(0, 2000)}`);
    url = new URL(interaction.action, url);
    method = 'POST';
    switch (interaction.prompt) {
      case 'login':
        form = new URLSearchParams({ prompt: 'login', login: sub });
        break;
      case 'consent':
        form = new URLSearchParams({ prompt: 'consent' });
        break;
      default:
        throw new Error(`unexpected interaction prompt "${interaction.prompt}"`);
    }
  }
  throw new Error(`sign-in did not reach the client within ${MAX_STEPS} requests`);
}

/** The development interaction pages are one POST form with a hidden `prompt` input (login or consent). */
function readInteractionForm(html: string): { action: string; prompt: string } | null {
  const action = /<form\b[^>]*\baction="([^"]*)"[^>]*\bmethod="post"/i.exec(html)?.[1];
  const prompt = /<input\b[^>]*\bname="prompt"[^>]*\bvalue="([^"]*)"/i.exec(html)?.[1];
  if (action === undefined || prompt === undefined) return null;
  return { action: decodeEntities(action), prompt };
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_m, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** A minimal cookie jar for one origin: cookies are keyed by name and path, honour Path, Max-Age and Expires. */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(setCookies: string[], requestUrl: URL): void {
    for (const header of setCookies) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultPath(requestUrl.pathname);
      let expired = false;
      for (const attribute of attributes) {
        const [rawKey, ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attrValue = rest.join('=').trim();
        if (key === 'path' && attrValue.startsWith('/')) path = attrValue;
        else if (key === 'max-age' && Number(attrValue) <= 0) expired = true;
        else if (key === 'expires' && Date.parse(attrValue) <= Date.now()) expired = true;
      }
      const key = `${path}\n${name}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

function defaultPath(requestPath: string): string {
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
