import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, userTableSql } from '../../kernel/db/rls';

/** Password history, one-time reset tokens, and the outgoing mail queue. */
export class IdentityPasswords1763856000000 implements MigrationInterface {
  name = 'IdentityPasswords1763856000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.password_history (
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         password_hash text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
         PRIMARY KEY (user_id, created_at))`,
      ...userTableSql('identity.password_history', 'SELECT, INSERT, DELETE'),
      `INSERT INTO identity.password_history (user_id, password_hash, created_at) SELECT id, password_hash, created_at FROM identity.users`,
      `CREATE TABLE identity.password_resets (
         token_hash text PRIMARY KEY,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         used_at timestamptz)`,
      `CREATE INDEX password_resets_user_idx ON identity.password_resets (user_id)`,
      ...userTableSql('identity.password_resets', 'SELECT, INSERT, UPDATE'),
      // A reset link arrives without any other credential: which account does this token belong to?
      `CREATE FUNCTION identity.password_reset_user(p_hash text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT r.user_id FROM identity.password_resets r
               WHERE r.token_hash = p_hash AND r.used_at IS NULL AND r.expires_at > now() $$`,
      `REVOKE ALL ON FUNCTION identity.password_reset_user(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.password_reset_user(text) TO nexus_app`,
      // Outgoing mail: written in the transaction that needs it, sent (and deleted) by a worker.
      `CREATE TABLE identity.mail_queue (
         id uuid PRIMARY KEY,
         recipient text NOT NULL,
         subject text NOT NULL,
         body text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         attempts int NOT NULL DEFAULT 0,
         next_attempt_at timestamptz NOT NULL DEFAULT now(),
         last_error text,
         failed_at timestamptz)`,
      `GRANT INSERT ON identity.mail_queue TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE identity.mail_queue`,
      `DROP FUNCTION identity.password_reset_user(text)`,
      `DROP TABLE identity.password_resets`,
      `DROP TABLE identity.password_history`,
    ]);
  }
}
