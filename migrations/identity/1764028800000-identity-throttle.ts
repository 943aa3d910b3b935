import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll } from '../../kernel/db/rls';

/** Counters for throttling sign-in, reset and second-factor attempts (fixed windows). */
export class IdentityThrottle1764028800000 implements MigrationInterface {
  name = 'IdentityThrottle1764028800000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE UNLOGGED TABLE identity.attempt_counters (
         bucket text NOT NULL,
         window_start timestamptz NOT NULL,
         hits int NOT NULL,
         PRIMARY KEY (bucket, window_start))`,
      // Counts one attempt and says whether it is within the limit; old windows are pruned on the way.
      `CREATE FUNCTION identity.count_attempt(p_bucket text, p_window_seconds int, p_limit int) RETURNS int
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
         AS $$
         DECLARE
           w timestamptz := to_timestamp(floor(extract(epoch FROM now()) / p_window_seconds) * p_window_seconds);
           n int;
         BEGIN
           INSERT INTO identity.attempt_counters AS c (bucket, window_start, hits) VALUES (p_bucket, w, 1)
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
             RETURNING hits INTO n;
           IF random() < 0.01 THEN
             DELETE FROM identity.attempt_counters WHERE window_start < now() - interval '1 day';
           END IF;
           IF n > p_limit THEN
             RETURN ceil(extract(epoch FROM (w + make_interval(secs => p_window_seconds) - now())))::int;
           END IF;
           RETURN 0;
         END $$`,
      `REVOKE ALL ON FUNCTION identity.count_attempt(text, int, int) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION identity.count_attempt(text, int, int) TO nexus_app`,
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [`DROP FUNCTION identity.count_attempt(text, int, int)`, `DROP TABLE identity.attempt_counters`]);
  }
}
