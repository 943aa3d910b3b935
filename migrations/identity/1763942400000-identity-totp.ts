import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, userTableSql } from '../../kernel/db/rls';

/** TOTP second factor: secrets, single-use backup codes, and sign-in challenges. */
export class IdentityTotp1763942400000 implements MigrationInterface {
  name = 'IdentityTotp1763942400000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.users
         ADD COLUMN totp_secret text,
         ADD COLUMN totp_pending_secret text,
         ADD COLUMN totp_enabled_at timestamptz,
         ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0`,
      `CREATE TABLE identity.backup_codes (
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         code_hash text NOT NULL,
         used_at timestamptz,
         PRIMARY KEY (user_id, code_hash))`,
      ...userTableSql('identity.backup_codes', 'SELECT, INSERT, UPDATE, DELETE'),
      `CREATE TABLE identity.login_challenges (
         tenant_id uuid NOT NULL,
         token_hash text NOT NULL,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         attempts int NOT NULL DEFAULT 0,
         used_at timestamptz,
         PRIMARY KEY (tenant_id, token_hash))`,
      `CREATE INDEX login_challenges_hash_idx ON identity.login_challenges (token_hash)`,
      ...userTableSql('identity.login_challenges', 'SELECT, INSERT, UPDATE'),
      // The second step arrives with only the challenge token.
      `CREATE FUNCTION identity.login_challenge_user(p_hash text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT c.user_id FROM identity.login_challenges c
               WHERE c.token_hash = p_hash AND c.used_at IS NULL AND c.expires_at > now() AND c.attempts < 5 $$`,
      `REVOKE ALL ON FUNCTION identity.login_challenge_user(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.login_challenge_user(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.login_challenge_user(text)`,
      `DROP TABLE identity.login_challenges`,
      `DROP TABLE identity.backup_codes`,
      `ALTER TABLE identity.users DROP COLUMN totp_secret, DROP COLUMN totp_pending_secret, DROP COLUMN totp_enabled_at, DROP COLUMN totp_last_step`,
    ]);
  }
}
