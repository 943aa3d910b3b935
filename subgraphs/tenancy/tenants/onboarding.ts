import type { EntityManager } from 'typeorm';
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class OnboardingStep {
  @Field(() => String)
  id: string;

  @Field(() => String)
  title: string;

  @Field(() => Boolean)
  done: boolean;
}

@ObjectType()
export class Onboarding {
  @Field(() => [OnboardingStep])
  steps: OnboardingStep[];

  @Field(() => Int)
  completed: number;

  @Field(() => Int)
  total: number;

  @Field(() => Boolean)
  done: boolean;
}

/** A new tenant's setup checklist, read from what the tenant has done (nothing to tick by hand). */
const STEPS: { id: string; title: string; sql: string }[] = [
  {
    id: 'invite_teammate',
    title: 'Invite a teammate',
    sql: `SELECT count(*) > 1 AS done FROM tenancy.memberships WHERE tenant_id = $1`,
  },
  {
    id: 'set_branding',
    title: 'Add your branding',
    sql: `SELECT EXISTS (SELECT 1 FROM tenancy.branding WHERE tenant_id = $1) AS done`,
  },
  {
    id: 'verify_domain',
    title: 'Verify a custom domain',
    sql: `SELECT EXISTS (SELECT 1 FROM tenancy.domains WHERE tenant_id = $1 AND status = 'verified') AS done`,
  },
  {
    id: 'install_module',
    title: 'Install a module',
    sql: `SELECT EXISTS (SELECT 1 FROM tenancy.tenant_modules WHERE tenant_id = $1) AS done`,
  },
];

export async function onboardingOf(em: EntityManager, tenantId: string): Promise<Onboarding> {
  const steps: OnboardingStep[] = [];
  for (const step of STEPS) {
    const [row]: { done: boolean }[] = await em.query(step.sql, [tenantId]);
    steps.push({ id: step.id, title: step.title, done: row?.done === true });
  }
  const completed = steps.filter((s) => s.done).length;
  return { steps, completed, total: steps.length, done: completed === steps.length };
}
