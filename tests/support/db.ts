import { Client } from 'pg';

/** Runs one statement on the platform's database as its owner (what the API does not show, or rows as an earlier version stored them). */
export async function sqlOn(
  databaseUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query(text, values)).rows;
  } finally {
    await db.end();
  }
}
