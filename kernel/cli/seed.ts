import { logger } from '../log';

const log = logger('seed');

export interface DemoCredentials {
  email: string;
  password: string;
  tenantName: string;
}

/** Creates the demo tenant and its admin through the public API, once (an existing account is left as is). */
export async function seedDemo(gatewayUrl: string, demo: DemoCredentials): Promise<'created' | 'exists'> {
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
  if (body.errors.some((e) => e.extensions?.code === 'EMAIL_TAKEN')) return 'exists';
  log.error({ errors: body.errors }, 'seeding the demo tenant failed');
  throw new Error(`Seeding failed: ${body.errors.map((e) => e.message).join('; ')}`);
}
