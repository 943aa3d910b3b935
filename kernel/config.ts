import { z } from 'zod';
import { DEFAULT_PORTS, type SubgraphName } from './services';

/**
 * Environment configuration, validated at boot. One schema per concern; every problem of every
 * concern is reported together (see `loadConfig`).
 */
/** `https://host[:port]` with nothing after it, as a browser sends in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
}

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const serverSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PORT: port(DEFAULT_PORTS.gateway),
  IDENTITY_PORT: port(DEFAULT_PORTS.identity),
  TENANCY_PORT: port(DEFAULT_PORTS.tenancy),
  COMMERCE_PORT: port(DEFAULT_PORTS.commerce),
  LEDGER_PORT: port(DEFAULT_PORTS.ledger),
  MESSAGING_PORT: port(DEFAULT_PORTS.messaging),
  INTELLIGENCE_PORT: port(DEFAULT_PORTS.intelligence),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /** How often each subgraph looks for due durable jobs. */
  JOB_POLL_MS: positiveInt(1_000),
});

const databaseSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  NEXUS_DATA_DIR: z.string().min(1).default('.nexus'),
  DB_POOL_SIZE: positiveInt(10),
  EMBEDDED_DB_PORT: port(5433),
  MIGRATE_ON_START: bool(true),
});

const pem = z
  .string()
  .transform((v) => (v.includes('-----BEGIN') ? v : Buffer.from(v, 'base64').toString('utf8')).replace(/\\n/g, '\n'))
  .refine((v) => v.includes('-----BEGIN'), 'must be a PEM key (or base64 of one)');

const keysSchema = z.object({
  NEXUS_ACCESS_TOKEN_PRIVATE_KEY: pem.optional(),
  NEXUS_ACCESS_TOKEN_PUBLIC_KEY: pem.optional(),
  NEXUS_CONTEXT_PRIVATE_KEY: pem.optional(),
  NEXUS_CONTEXT_PUBLIC_KEY: pem.optional(),
  /** Ed25519: the ledger signs its checkpoints with it; the gateway publishes the public half. */
  NEXUS_LEDGER_PRIVATE_KEY: pem.optional(),
  NEXUS_LEDGER_PUBLIC_KEY: pem.optional(),
  /** 32 bytes, base64: seals secrets kept in the database (webhook and SSO secrets). */
  NEXUS_DATA_KEY: z
    .string()
    .transform((v) => Buffer.from(v, 'base64'))
    .refine((b) => b.length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
});

const authSchema = z.object({
  JWT_ISSUER: z.string().min(1).default('nexus-identity'),
  JWT_AUDIENCE: z.string().min(1).default('nexus-api'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 3600),
  CONTEXT_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(60).default(30),
  /**
   * Sign-in attempts allowed per client address, and per account from one address, every 15 minutes. The second
   * also bounds a signed-in account's own password checks (changePassword, disableTotp), per account.
   */
  LOGIN_ATTEMPTS_PER_IP: positiveInt(100),
  LOGIN_ATTEMPTS_PER_ACCOUNT_IP: positiveInt(10),
  /** Registrations (each a new account and tenant) allowed per client address every hour. */
  REGISTER_ATTEMPTS_PER_IP: positiveInt(10),
  /** Where argon2 runs: a low-priority child process of identity, or inline on the thread pool. */
  PASSWORD_HASHING: z.enum(['process', 'inline']).default('process'),
  /** Accounts (by e-mail) that are platform Super Admins by configuration, comma-separated. */
  SUPER_ADMIN_EMAILS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
});

const gatewaySchema = z.object({
  SUPERGRAPH_PATH: z.string().min(1).default('schema/supergraph.graphql'),
  IDENTITY_URL: z.url().optional(),
  TENANCY_URL: z.url().optional(),
  COMMERCE_URL: z.url().optional(),
  LEDGER_URL: z.url().optional(),
  MESSAGING_URL: z.url().optional(),
  INTELLIGENCE_URL: z.url().optional(),
  LIMIT_MAX_DEPTH: positiveInt(12),
  LIMIT_MAX_ALIASES: positiveInt(20),
  LIMIT_MAX_COST: positiveInt(5000),
  LIMIT_MAX_BODY_BYTES: positiveInt(100_000),
  API_KEY_RATE_PER_MINUTE: positiveInt(600),
  /** How often the gateway sends the usage it counted to tenancy. */
  USAGE_FLUSH_MS: positiveInt(5_000),
  /** How often each gateway reads the sessions revoked since its last look from identity (the bound when an announcement is lost). */
  REVOCATION_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  /** How long one subgraph fetch may take before the subgraph counts as unavailable (503). */
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Browser origins allowed to call the API (besides APP_URL's), comma-separated; `*` for any. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim().replace(/\/$/, ''))
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.union([
          z.literal('*'),
          z
            .string()
            .refine(isOrigin, 'must be origins like https://app.example.com (scheme, host, optional port; no path)'),
        ]),
      ),
    ),
  /** Which proxies' X-Forwarded-For to believe for the client address (express "trust proxy"). */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v): boolean | number | string =>
      v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v,
    ),
});

/**
 * Live subscriptions over WebSocket: what each socket, user (across their sockets and tenants), tenant and
 * client address may hold at one gateway. Every subscription costs work per event, so each is counted.
 */
const subscriptionsSchema = z.object({
  WS_MAX_SOCKETS_PER_USER: positiveInt(25),
  WS_MAX_SOCKETS_PER_ADDRESS: positiveInt(100),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: positiveInt(50),
  WS_MAX_SUBSCRIPTIONS_PER_USER: positiveInt(100),
  WS_MAX_SUBSCRIPTIONS_PER_TENANT: positiveInt(2000),
  WS_MAX_SUBSCRIPTIONS_PER_ADDRESS: positiveInt(400),
  /** Different selections (variables, fragments…) of one stream — the same root field and arguments — a user may hold; each is one lookup per event. */
  WS_MAX_VARIANTS_PER_USER: positiveInt(5),
  /** The same, for everyone of a tenant together (subscribers with different roles count apart). */
  WS_MAX_VARIANTS_PER_TENANT: positiveInt(50),
});

/** What every Redis key and channel of a deployment starts with. */
export const DEFAULT_REDIS_PREFIX = 'nexus:';

const realtimeSchema = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Deployments (or test runs) sharing one Redis keep their streams, groups and channels apart by it. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'letters, digits and . _ : - only (at most 64)')
    .default(DEFAULT_REDIS_PREFIX),
  /** How long a starting process waits for REDIS_URL to answer before it exits. */
  REDIS_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** A device that has not sent setPresence for this long is offline (clients heartbeat at about half of it). */
  PRESENCE_TTL_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  /** How long a typing indicator lasts unless renewed. */
  TYPING_TTL_SECONDS: z.coerce.number().int().min(1).max(60).default(6),
  /** Inbound webhooks: how far a signed timestamp may be from now. */
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
});

const mailSchema = z.object({
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().min(3).default('Nexus Platform <no-reply@nexus.local>'),
  /** Where links in e-mails point (password reset, invitations). */
  APP_URL: z.url().default('http://localhost:3000'),
  /** The gateway's public origin (https://api.example.com): single sign-on callback URLs are built on it. Unset: the origin each request arrived at. */
  PUBLIC_URL: z.url().optional(),
});

const tenancySchema = z.object({
  /** Trial length of a new tenant (0: no trial); when it ends the tenant is refused until reactivated. */
  TRIAL_PERIOD_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(14 * 86_400),
  /** How long a deleted tenant can be restored before its data is purged from every subgraph. */
  TENANT_DELETE_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 86_400),
});

const domainsSchema = z.object({
  /** Resolvers for custom-domain verification (`host` or `host:port`, comma-separated); the system's when unset. */
  DNS_SERVERS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[0-9a-fA-F.:[\]]+$/, 'must be IP addresses, optionally with :port'))),
  /** How often a verified domain's TXT record is checked again (seconds). */
  DOMAIN_RECHECK_SECONDS: positiveInt(86_400),
});

/** A C2SP key name or origin: printable, no spaces or '+'. */
const noteName = z
  .string()
  .regex(/^[\x21-\x2a\x2c-\x7e]{1,200}$/, 'must be 1 to 200 printable characters without spaces or +');

const ledgerSchema = z.object({
  /** Origin line of checkpoints: a tenant's log is `<origin>/<tenant id>`, the platform log `<origin>/platform`. */
  NEXUS_LEDGER_ORIGIN: noteName.default('nexus.local/ledger'),
  /** Name of the checkpoint signing key in signed notes and in the verifier key. */
  NEXUS_LEDGER_KEY_NAME: noteName.default('nexus.local/ledger'),
  /** A checkpoint is made once a log has grown by this many entries since its last one… */
  LEDGER_CHECKPOINT_ENTRIES: positiveInt(256),
  /** …or this many seconds after the first entry that no checkpoint covers yet. */
  LEDGER_CHECKPOINT_SECONDS: positiveInt(10),
});

const billingSchema = z
  .object({
    /** Stripe's secret key (`sk_live_…`/`sk_test_…`): billing charges through Stripe. Unset: the built-in invoicer. */
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(live|test)_[A-Za-z0-9]+$/, 'must be a Stripe secret or restricted key')
      .optional(),
    /** The signing secret of the webhook endpoint `<gateway>/hooks/commerce/stripe` (`whsec_…`). */
    STRIPE_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be a Stripe webhook signing secret')
      .optional(),
    /** Where Stripe's API is (default https://api.stripe.com); another origin serves the same protocol (a local test server). */
    STRIPE_API_URL: z.url().optional(),
    /** Currency of the plans' prices unless a plan names its own (ISO 4217). */
    BILLING_CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR')
      .default('EUR'),
    /** How long an invoice may stay unpaid after its first failed payment (or due date) before the tenant is suspended. */
    BILLING_GRACE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .default(14 * 86_400),
    /** Time between dunning reminders while an invoice is unpaid. */
    BILLING_REMINDER_SECONDS: positiveInt(3 * 86_400),
    /** Built-in invoicer: an invoice is due this long after it is issued. */
    BILLING_INVOICE_DUE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .default(7 * 86_400),
    /** Built-in invoicer: length of a billing period in seconds (for demos); unset: calendar months or years. */
    BILLING_PERIOD_SECONDS: z.coerce.number().int().positive().optional(),
    /** Metered usage is sent to Stripe this long after it is recorded (usage of that time is sent together). */
    BILLING_USAGE_REPORT_SECONDS: z.coerce.number().int().min(0).default(60),
  })
  .refine((v) => !v.STRIPE_SECRET_KEY || v.STRIPE_WEBHOOK_SECRET, {
    message: 'STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY',
    path: ['STRIPE_WEBHOOK_SECRET'],
  });

const logSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const seedSchema = z.object({
  SEED_DEMO: bool(true),
  DEMO_EMAIL: z.email().default('admin@demo.nexus.local'),
  DEMO_PASSWORD: z.string().min(8).default('nexus-demo-password'),
});

const concerns = {
  server: serverSchema,
  database: databaseSchema,
  keys: keysSchema,
  auth: authSchema,
  gateway: gatewaySchema,
  subscriptions: subscriptionsSchema,
  realtime: realtimeSchema,
  mail: mailSchema,
  tenancy: tenancySchema,
  domains: domainsSchema,
  ledger: ledgerSchema,
  billing: billingSchema,
  log: logSchema,
  seed: seedSchema,
};

type Concerns = typeof concerns;
export type Config = { [K in keyof Concerns]: z.output<Concerns[K]> };

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses every concern and throws one ConfigError that lists all problems at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // A variable set to nothing (`DATABASE_URL=`, as compose files and shells pass it) means unset.
  env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const out: Partial<Record<keyof Concerns, unknown>> = {};
  for (const [name, schema] of Object.entries(concerns) as [keyof Concerns, z.ZodType][]) {
    const parsed = schema.safeParse(env);
    if (parsed.success) out[name] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const config = out as Config;
  if (problems.length === 0 && config.server.NODE_ENV === 'production') {
    const k = config.keys;
    if (!k.NEXUS_ACCESS_TOKEN_PUBLIC_KEY) problems.push('NEXUS_ACCESS_TOKEN_PUBLIC_KEY: required in production');
    if (!k.NEXUS_CONTEXT_PUBLIC_KEY) problems.push('NEXUS_CONTEXT_PUBLIC_KEY: required in production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export function portOf(config: Config, service: 'gateway' | SubgraphName): number {
  const key = `${service.toUpperCase()}_PORT` as keyof Config['server'];
  return config.server[key] as number;
}

export function subgraphUrlOverride(config: Config, name: SubgraphName): string | undefined {
  return config.gateway[`${name.toUpperCase()}_URL` as keyof Config['gateway']] as string | undefined;
}
