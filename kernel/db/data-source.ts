import { DataSource, type EntityManager, type MixedList } from 'typeorm';
import { APP_ROLE } from './roles';
import { logger } from '../log';
import { withDatabaseLock } from './lock';

/** A subgraph's connection to its own Postgres schema. */
export interface SubgraphDatabaseOptions {
  url: string;
  schema: string;
  // TypeORM accepts classes here; kept loose so each subgraph lists its own.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  poolSize: number;
}

export function createSubgraphDataSource(options: SubgraphDatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: { max: options.poolSize, application_name: `nexus-${options.schema}` },
  });
}

const log = logger('db.migrate');

/**
 * Creates the subgraph's schema (as owner) and applies its pending migrations. Instances starting at
 * the same time take turns (a database lock per schema, see lock.ts), so each migration runs once.
 */
export async function migrateSubgraph(options: SubgraphDatabaseOptions): Promise<string[]> {
  return withDatabaseLock(options.url, `nexus:migrate:${options.schema}`, async (client) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    await client.query(`GRANT USAGE ON SCHEMA "${options.schema}" TO ${APP_ROLE}`);
    const ds = createSubgraphDataSource({ ...options, poolSize: 1 });
    await ds.initialize();
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      if (applied.length)
        log.info({ schema: options.schema, applied: applied.map((m) => m.name) }, 'migrations applied');
      return applied.map((m) => m.name);
    } finally {
      await ds.destroy();
    }
  });
}

export type { EntityManager };
