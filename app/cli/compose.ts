import 'reflect-metadata';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse, printSchema } from 'graphql';
import { SUBGRAPH_DEFINITIONS } from '../../subgraphs';
import { DEFAULT_PORTS, SUBGRAPHS } from '../../kernel/services';
import { buildSubgraphSchemaFor, type SubgraphDeps } from '../../kernel/subgraph';

/**
 * Builds every subgraph's SDL from its code and composes the supergraph. Writes schema/<name>.graphql and
 * schema/supergraph.graphql, or with --check fails when the checked-in files differ.
 */
export async function composeSupergraph(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const services = [];
  for (const name of SUBGRAPHS) {
    // Schema building never touches the deps; resolvers get real ones at run time.
    const schema = await buildSubgraphSchemaFor(SUBGRAPH_DEFINITIONS[name], { name } as SubgraphDeps);
    const sdl = printSubgraphSchema(schema);
    files[`${name}.graphql`] = `${sdl.trim()}\n`;
    services.push({ name, url: `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`, typeDefs: parse(sdl) });
  }
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  files['supergraph.graphql'] = `${result.supergraphSdl.trim()}\n`;
  // What clients see (no join/federation machinery): codegen and frontends use this one.
  files['api.graphql'] = `${printSchema(result.schema.toAPISchema().toGraphQLJSSchema()).trim()}\n`;
  return files;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const dir = resolve('schema');
  const files = await composeSupergraph();
  const stale: string[] = [];
  for (const [file, content] of Object.entries(files)) {
    const path = join(dir, file);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (current === content) continue;
    if (check) stale.push(file);
    else {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, content);
      process.stdout.write(`wrote schema/${file}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `Composed schema is stale: ${stale.join(', ')}. Run \`npm run compose\` and commit schema/.\n`,
    );
    process.exit(1);
  }
  if (check) process.stdout.write('schema/ is current\n');
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
