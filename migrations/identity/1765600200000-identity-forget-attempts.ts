import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** Lets a count of attempts be forgotten (an account's password checks, once all its sessions ended). */
export class IdentityForgetAttempts1765600200000 implements MigrationInterface {
  name = 'IdentityForgetAttempts1765600200000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE FUNCTION identity.forget_attempts(p_buckets text[]) RETURNS void
         LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$ DELETE FROM identity.attempt_counters WHERE bucket = ANY(p_buckets) $$`,
      `REVOKE ALL ON FUNCTION identity.forget_attempts(text[]) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.forget_attempts(text[]) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP FUNCTION identity.forget_attempts(text[])`]);
  }
}
