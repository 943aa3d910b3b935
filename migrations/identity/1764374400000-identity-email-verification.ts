import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, userTableSql } from '../../kernel/db/rls';

/** E-mail verification: a flag on the account and one-time tokens sent by mail. */
export class IdentityEmailVerification1764374400000 implements MigrationInterface {
  name = 'IdentityEmailVerification1764374400000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE identity.users ADD COLUMN email_verified_at timestamptz`,
      `CREATE TABLE identity.email_verifications (
         token_hash text PRIMARY KEY,
         user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
         email text NOT NULL,
         expires_at timestamptz NOT NULL,
         used_at timestamptz)`,
      ...userTableSql('identity.email_verifications', 'SELECT, INSERT, UPDATE'),
      `CREATE FUNCTION identity.email_verification_user(p_hash text) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ SELECT v.user_id FROM identity.email_verifications v
               WHERE v.token_hash = p_hash AND v.used_at IS NULL AND v.expires_at > now() $$`,
      `REVOKE ALL ON FUNCTION identity.email_verification_user(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.email_verification_user(text) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP FUNCTION identity.email_verification_user(text)`,
      `DROP TABLE identity.email_verifications`,
      `ALTER TABLE identity.users DROP COLUMN email_verified_at`,
    ]);
  }
}
