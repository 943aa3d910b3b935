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
      query: 'mutation Seed($input: RegisterInput!) { register(input: $input) { user { id } tenant { id } } }',
      variables: { input: demo },
    }),
  });
  const body = (await res.json()) as { errors?: { extensions?: { code?: string }; message: string }[] };
  if (!body.errors) return 'created';
  log.error({ errors: body.errors }, 'seeding the demo tenant failed');
  throw new Error(`Seeding failed: ${body.errors.map((e) => e.message).join('; ')}`);
}
