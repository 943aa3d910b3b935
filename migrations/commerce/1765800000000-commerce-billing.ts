import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { APP_ROLE } from '../../kernel/db/roles';
import { jobTablesSql } from '../../kernel/jobs';

const money = (column: string) => `${column} numeric(39,0) NOT NULL DEFAULT 0 CHECK (${column} >= 0)`;
const currency = `currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$')`;

/**
 * Platform billing: the plan catalogue, each tenant's billing account (the mirror of its subscription at the
 * payment provider), invoices, refunds and disputes, members counted as seats, metered usage and what of it
 * the provider was told, and the provider's webhook events already handled.
 */
export class CommerceBilling1765800000000 implements MigrationInterface {
  name = 'CommerceBilling1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE commerce.plans (
         id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
         description text CHECK (length(description) <= 2000),
         ${currency},
         trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 730),
         modules text[] NOT NULL DEFAULT '{}',
         limits jsonb NOT NULL DEFAULT '{}',
         prices jsonb NOT NULL DEFAULT '[]',
         active boolean NOT NULL DEFAULT true,
         provider_prices jsonb NOT NULL DEFAULT '{}',
         synced_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now())`,
      `GRANT SELECT, INSERT, UPDATE ON commerce.plans TO ${APP_ROLE}`,

      `CREATE TABLE commerce.billing_accounts (
         tenant_id uuid PRIMARY KEY,
         version integer NOT NULL DEFAULT 0,
         provider text NOT NULL CHECK (provider IN ('stripe', 'builtin')),
         customer_id text,
         email text CHECK (length(email) <= 320),
         plan_id text,
         interval text CHECK (interval IN ('month', 'year')),
         status text NOT NULL DEFAULT 'none'
           CHECK (status IN ('none', 'incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'canceled')),
         subscription_id text,
         current_period_start timestamptz,
         current_period_end timestamptz,
         trial_end timestamptz,
         cancel_at_period_end boolean NOT NULL DEFAULT false,
         seats integer NOT NULL DEFAULT 0 CHECK (seats >= 0),
         delinquent boolean NOT NULL DEFAULT false,
         dunning_invoice_id text,
         dunning_started_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now())`,
      ...tenantTableSql('commerce.billing_accounts', { privileges: 'SELECT, INSERT, UPDATE' }),

      `CREATE TABLE commerce.invoices (
         tenant_id uuid NOT NULL,
         id text NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
         subscription_id text,
         number text,
         status text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
         ${currency},
         ${money('subtotal')},
         ${money('total')},
         ${money('amount_due')},
         ${money('amount_paid')},
         period_start timestamptz NOT NULL,
         period_end timestamptz NOT NULL,
         due_at timestamptz,
         paid_at timestamptz,
         hosted_url text,
         pdf_url text,
         attempt_count integer NOT NULL DEFAULT 0,
         next_attempt_at timestamptz,
         lines jsonb NOT NULL DEFAULT '[]',
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE INDEX invoices_tenant_created ON commerce.invoices (tenant_id, created_at DESC)`,
      ...tenantTableSql('commerce.invoices', { privileges: 'SELECT, INSERT, UPDATE' }),

      `CREATE TABLE commerce.billing_adjustments (
         tenant_id uuid NOT NULL,
         id text NOT NULL,
         kind text NOT NULL CHECK (kind IN ('refund', 'dispute')),
         invoice_id text,
         ${money('amount')},
         ${currency},
         status text NOT NULL,
         reason text,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      ...tenantTableSql('commerce.billing_adjustments', { privileges: 'SELECT, INSERT, UPDATE' }),

      `CREATE TABLE commerce.members (
         tenant_id uuid NOT NULL,
         user_id uuid NOT NULL,
         joined_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, user_id))`,
      ...tenantTableSql('commerce.members'),

      `CREATE TABLE commerce.metered_usage (
         tenant_id uuid NOT NULL,
         metric text NOT NULL,
         module text NOT NULL DEFAULT '',
         hour timestamptz NOT NULL,
         amount bigint NOT NULL CHECK (amount >= 0),
         reported bigint NOT NULL DEFAULT 0 CHECK (reported >= 0),
         PRIMARY KEY (tenant_id, metric, module, hour))`,
      ...tenantTableSql('commerce.metered_usage', { privileges: 'SELECT, INSERT, UPDATE' }),

      // Which tenant a provider's customer is: a global registry reached only through definer functions.
      `CREATE TABLE commerce.billing_customers (
         provider text NOT NULL,
         customer_id text NOT NULL,
         owner_tenant uuid NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (provider, customer_id))`,
      `ALTER TABLE commerce.billing_customers ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE commerce.billing_customers FORCE ROW LEVEL SECURITY`,
      `CREATE FUNCTION commerce.claim_customer(p_provider text, p_customer text, p_tenant uuid) RETURNS uuid
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ INSERT INTO commerce.billing_customers (provider, customer_id, owner_tenant) VALUES (p_provider, p_customer, p_tenant)
               ON CONFLICT (provider, customer_id) DO NOTHING;
               SELECT owner_tenant FROM commerce.billing_customers WHERE provider = p_provider AND customer_id = p_customer $$`,
      `CREATE FUNCTION commerce.tenant_of_customer(p_provider text, p_customer text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT owner_tenant FROM commerce.billing_customers WHERE provider = p_provider AND customer_id = p_customer $$`,
      `CREATE FUNCTION commerce.forget_customers(p_tenant uuid) RETURNS void
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ DELETE FROM commerce.billing_customers WHERE owner_tenant = p_tenant $$`,
      ...['claim_customer(text, text, uuid)', 'tenant_of_customer(text, text)', 'forget_customers(uuid)'].flatMap(
        (f) => [
          `REVOKE ALL ON FUNCTION commerce.${f} FROM PUBLIC`,
          `GRANT EXECUTE ON FUNCTION commerce.${f} TO ${APP_ROLE}`,
        ],
      ),

      // Webhook events handled, by the provider's event id; the signature's timestamp tells a replay from a redelivery.
      `CREATE TABLE commerce.provider_events (
         id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
         type text NOT NULL,
         signed_at timestamptz NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now(),
         processed_at timestamptz)`,
      `GRANT SELECT, INSERT, UPDATE ON commerce.provider_events TO ${APP_ROLE}`,
      // Tenants whose rows were purged: events and jobs that arrive later write nothing for them.
      `CREATE TABLE commerce.purged_tenants (
         owner_tenant uuid PRIMARY KEY,
         purged_at timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE commerce.purged_tenants ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE commerce.purged_tenants FORCE ROW LEVEL SECURITY`,
      ...jobTablesSql('commerce'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE commerce.jobs`,
      `DROP FUNCTION commerce.schedule_job(text, text, jsonb, timestamptz)`,
      `DROP TABLE commerce.purged_tenants`,
      `DROP TABLE commerce.provider_events`,
      `DROP FUNCTION commerce.forget_customers(uuid)`,
      `DROP FUNCTION commerce.tenant_of_customer(text, text)`,
      `DROP FUNCTION commerce.claim_customer(text, text, uuid)`,
      `DROP TABLE commerce.billing_customers`,
      `DROP TABLE commerce.metered_usage`,
      `DROP TABLE commerce.members`,
      `DROP TABLE commerce.billing_adjustments`,
      `DROP TABLE commerce.invoices`,
      `DROP TABLE commerce.billing_accounts`,
      `DROP TABLE commerce.plans`,
    ]);
  }
}
