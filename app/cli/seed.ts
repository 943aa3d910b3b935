import { Client } from 'pg';
import { logger } from '../../kernel/log';

const log = logger('seed');

export interface DemoCredentials {
  email: string;
  password: string;
  tenantName: string;
}

/** Whether an account holds the address (asked of the database: `register` answers the same either way). */
async function accountExists(databaseUrl: string, email: string): Promise<boolean> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ held: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM identity.credentials_for_login($1)) AS held',
      [email],
    );
    return rows[0]?.held === true;
  } finally {
    await db.end();
  }
}

/** Creates the demo tenant and its admin through the public API, once (an existing account is left as is). */
export async function seedDemo(
  gatewayUrl: string,
  databaseUrl: string,
  demo: DemoCredentials,
): Promise<'created' | 'exists'> {
  if (await accountExists(databaseUrl, demo.email.trim().toLowerCase())) return 'exists';
  const res = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query:
        'mutation Seed($input: RegisterInput!) { register(input: $input) { accessToken user { id } tenant { id } } }',
      variables: { input: demo },
    }),
  });
  const body = (await res.json()) as {
    data?: { register: { accessToken: string } };
    errors?: { extensions?: { code?: string }; message: string }[];
  };
  if (!body.errors) {
    await subscribeDemo(gatewayUrl, body.data!.register.accessToken);
    return 'created';
  }
  log.error({ errors: body.errors }, 'seeding the demo tenant failed');
  throw new Error(`Seeding failed: ${body.errors.map((e) => e.message).join('; ')}`);
}

/**
 * The demo tenant subscribes to the default Team plan (a trial, with the built-in invoicer unless Stripe is configured),
 * so billing shows end to end: its account, plan, grants and invoices. Best effort: the demo works without it.
 */
async function subscribeDemo(gatewayUrl: string, token: string): Promise<void> {
  const call = async (query: string) => {
    const res = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as { data?: Record<string, unknown> | null; errors?: { message: string }[] };
  };
  for (let attempt = 0; attempt < 50; attempt++) {
    const plans = await call('{ plans { id } }');
    if ((plans.data?.plans as { id: string }[] | undefined)?.some((p) => p.id === 'team')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const res = await call('mutation { startCheckout(planId: "team", interval: MONTH) { url } }');
  if (res.errors) log.warn({ errors: res.errors }, 'the demo tenant was not subscribed to a plan');
}
