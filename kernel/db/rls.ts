import { APP_ROLE } from './roles';

const TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;
const USER = `nullif(current_setting('app.user_id', true), '')::uuid`;

/** SQL fragments migrations use for the current tenant/user settings. */
export const CURRENT_TENANT_SQL = TENANT;
export const CURRENT_USER_SQL = USER;

/**
 * Row-level security for a tenant-owned table: enabled and forced, one fail-closed policy (no tenant set,
 * no rows), and DML for the runtime role only.
 */
export function tenantTableSql(qualified: string, options: { privileges?: string } = {}): string[] {
  const policy = `${qualified.split('.').pop()!.replace(/"/g, '')}_tenant_isolation`;
  return [
    `ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${qualified} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY ${policy} ON ${qualified} USING (tenant_id = ${TENANT}) WITH CHECK (tenant_id = ${TENANT})`,
    `GRANT ${options.privileges ?? 'SELECT, INSERT, UPDATE, DELETE'} ON ${qualified} TO ${APP_ROLE}`,
  ];
}

/**
 * Row-level security for rows that belong to one account (not to a tenant): visible and writable only
 * while `app.user_id` is that account.
 */
export function userTableSql(qualified: string, privileges: string): string[] {
  const name = qualified.split('.').pop()!.replace(/"/g, '');
  return [
    `ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${qualified} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY ${name}_own ON ${qualified} USING (user_id = ${USER}) WITH CHECK (user_id = ${USER})`,
    `GRANT ${privileges} ON ${qualified} TO ${APP_ROLE}`,
  ];
}

export async function runAll(runner: { query(sql: string): Promise<unknown> }, statements: string[]): Promise<void> {
  for (const sql of statements) await runner.query(sql);
}
