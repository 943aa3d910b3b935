import 'reflect-metadata';
import { SUBGRAPH_DEFINITIONS } from '../../subgraphs';
import { ConfigError, loadConfig } from '../../kernel/config';
import { openDatabase } from '../../kernel/db/database';
import { migrateAll } from '../../kernel/runtime';
import { SUBGRAPHS, isSubgraphName } from '../../kernel/services';

/** `npm run migrate [subgraph…]`: applies pending migrations (all subgraphs by default). */
async function main(): Promise<void> {
  const config = loadConfig();
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !isSubgraphName(n));
  if (unknown.length) throw new Error(`Unknown subgraph(s): ${unknown.join(', ')}`);
  const selected = (names.length ? names : [...SUBGRAPHS]).filter(isSubgraphName);
  const db = await openDatabase(config);
  try {
    const applied = await migrateAll(
      db.url,
      selected.map((n) => SUBGRAPH_DEFINITIONS[n]),
    );
    for (const [name, list] of Object.entries(applied)) {
      process.stdout.write(`${name}: ${list.length ? list.join(', ') : 'up to date'}\n`);
    }
  } finally {
    await db.stop();
  }
}

main().catch((err) => {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
