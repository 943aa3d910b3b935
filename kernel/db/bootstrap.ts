import { EVENT_BUS_SQL } from '../event-bus';
import { withDatabaseLock } from './lock';
import { APP_ROLE } from './roles';

/**
 * Cluster- and database-level preparation done once by the owner before migrations: the pgvector
 * extension, the unprivileged runtime role (NOLOGIN, not superuser, no BYPASSRLS, owns nothing) and
 * the event bus tables.
 */
export async function prepareDatabase(url: string): Promise<void> {
  await withDatabaseLock(url, 'nexus:bootstrap', async (client) => {
    await client.query(`CREATE EXTENSION IF NOT EXISTS vector`);
    const exists = await client.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [APP_ROLE]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT`);
    }
    await client.query(`ALTER ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`);
    const member = await client.query(`SELECT pg_has_role(current_user, $1, 'MEMBER') AS ok`, [APP_ROLE]);
    if (!member.rows[0].ok) await client.query(`GRANT ${APP_ROLE} TO current_user`);
    for (const sql of EVENT_BUS_SQL) await client.query(sql);
  });
}
