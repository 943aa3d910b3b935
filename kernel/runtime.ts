import type { DataSource } from 'typeorm';
import type { Config } from './config';
import { createSubgraphDataSource, migrateSubgraph } from './db/data-source';
import { prepareDatabase } from './db/bootstrap';
import { attachConsumers, OutboxRelay, recordEvent, type EventBus } from './events';
import {
  consumer,
  TENANT_EXPORT_PART_EVENT,
  TENANT_EXPORT_REQUESTED_EVENT,
  TENANT_PURGED_EVENT,
} from './contracts/events';
import { exportTenantRows } from './db/export';
import { purgeTenantRows } from './db/purge';
import { JobRunner } from './jobs';
import { startSubgraphServer } from './http/subgraph-server';
import type { RunningService } from './http/service';
import type { PlatformKeys } from './keys';
import { buildSubgraphSchemaFor, type SubgraphDefinition, type SubgraphDeps } from './subgraph';
import type { PubSub } from './pubsub';

export interface SubgraphRuntimeOptions {
  config: Config;
  keys: PlatformKeys;
  databaseUrl: string;
  poolSize: number;
  bus: EventBus;
  pubsub: PubSub;
  host: string;
  port: number;
}

export interface RunningSubgraph extends RunningService {
  ds: DataSource;
  outbox: OutboxRelay;
}

/** Applies every subgraph's pending migrations (as the owner), after the database-level bootstrap. */
export async function migrateAll(databaseUrl: string, defs: SubgraphDefinition[]): Promise<Record<string, string[]>> {
  await prepareDatabase(databaseUrl);
  const applied: Record<string, string[]> = {};
  for (const def of defs) {
    applied[def.name] = await migrateSubgraph({
      url: databaseUrl,
      schema: def.name,
      entities: def.entities,
      migrations: def.migrations,
      poolSize: 1,
    });
  }
  return applied;
}

/** Runs one subgraph: its DataSource, outbox relay, event consumers and HTTP server. */
export async function startSubgraph(
  def: SubgraphDefinition,
  options: SubgraphRuntimeOptions,
): Promise<RunningSubgraph> {
  const ds = createSubgraphDataSource({
    url: options.databaseUrl,
    schema: def.name,
    entities: def.entities,
    migrations: def.migrations,
    poolSize: options.poolSize,
  });
  await ds.initialize();
  const outbox = new OutboxRelay(ds, def.name, options.bus);
  const deps: SubgraphDeps = {
    name: def.name,
    ds,
    config: options.config,
    keys: options.keys,
    outbox,
    bus: options.bus,
    pubsub: options.pubsub,
  };
  // Every subgraph removes a purged tenant's rows from its own schema.
  const beforePurge = def.purge?.(deps);
  const purge = consumer({
    name: 'purge-tenant',
    types: [TENANT_PURGED_EVENT],
    handle: async (event, em) => {
      await beforePurge?.(em, event.payload.tenantId);
      await purgeTenantRows(em, def.name, event.payload.tenantId);
    },
  });
  // ...and answers an export request with its own rows of that tenant.
  const exportPart = consumer({
    name: 'export-tenant',
    types: [TENANT_EXPORT_REQUESTED_EVENT],
    handle: async (event, em) => {
      const { tenantId, exportId } = event.payload;
      const tables = await exportTenantRows(em, def.name, tenantId);
      await recordEvent(em, def.name, {
        type: TENANT_EXPORT_PART_EVENT,
        tenantId,
        payload: { tenantId, exportId, subgraph: def.name, tables },
      });
    },
  });
  attachConsumers(ds, def.name, options.bus, [...(def.consumers?.(deps) ?? []), purge, exportPart]);
  outbox.start();
  const jobs = def.jobs ? new JobRunner(ds, def.name, def.jobs(deps), options.config.server.JOB_POLL_MS) : null;
  jobs?.start();
  const background = def.background?.(deps);
  const schema = await buildSubgraphSchemaFor(def, deps);
  const server = await startSubgraphServer({
    name: def.name,
    schema,
    host: options.host,
    port: options.port,
    contextPublicKey: options.keys.context.publicKey,
    contextValue: { deps },
    internal: def.internal?.(deps),
    hooks: def.hooks?.(deps),
    production: options.config.server.NODE_ENV === 'production',
    shutdownTimeoutMs: options.config.server.SHUTDOWN_TIMEOUT_MS,
    ready: async () => {
      await ds.query('SELECT 1');
      return true;
    },
    onStop: async () => {
      await background?.stop();
      await jobs?.stop();
      await outbox.stop();
      await ds.destroy();
    },
  });
  return { ...server, ds, outbox };
}
