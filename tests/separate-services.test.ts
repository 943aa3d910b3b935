import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoginDocument, MessagesDocument, RoomsDocument } from './generated/graphql';
import { callersAt, type User } from './support/client';
import { allGone, freePorts, runCommand, type Command } from './support/processes';

/**
 * The README's recipe without PostgreSQL: `npm run start:db`, then every service as its own
 * `npm run start:<service>` sharing that database, all started at once (their migrations race on a fresh
 * data dir), stopped with SIGTERM and started again, three times, with traffic in between.
 * (On PostgreSQL the same separate processes are covered by the scale-out test.)
 */
const suite = process.env.DATABASE_URL ? describe.skip : describe;
const SERVICES = ['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence'] as const;
const dataDir = mkdtempSync(join(tmpdir(), 'nexus-separate-'));
const running: Command[] = [];

afterAll(() => {
  for (const c of running) c.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

suite('separate services on the embedded database (npm run start:db)', () => {
  let env: NodeJS.ProcessEnv;
  let gatewayUrl: string;

  beforeAll(async () => {
    const [dbPort, gatewayPort, ...ports] = await freePorts(2 + SERVICES.length);
    env = {
      NEXUS_DATA_DIR: dataDir,
      EMBEDDED_DB_PORT: String(dbPort),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${dbPort}/postgres`,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      SEED_DEMO: 'false',
      GATEWAY_PORT: String(gatewayPort),
      ...Object.fromEntries(SERVICES.map((s, i) => [`${s.toUpperCase()}_PORT`, String(ports[i])])),
    };
    gatewayUrl = `http://127.0.0.1:${gatewayPort}/graphql`;
  });

  /**
   * As the README has it: start:db in the background and every subgraph and the gateway right after, all
   * at once (services wait for the database to come up); the gateway finds them by their *_PORT.
   */
  async function startAll(): Promise<Command[]> {
    const db = runCommand('npm', ['run', 'start:db'], { ...env, DATABASE_URL: '' });
    const services = [...SERVICES, 'gateway'].map((s) => runCommand('npm', ['run', `start:${s}`], env));
    running.push(db, ...services);
    await db.waitFor(/DATABASE_URL=postgres:\/\/\S+/);
    await Promise.all(services.map((s) => s.waitFor(/Nexus Platform is up/, 150_000)));
    return [db, ...services];
  }

  /** SIGTERM to each npm, services first, the database last; nothing may be left running. */
  async function stopAll(commands: Command[]): Promise<void> {
    const [db, ...services] = commands;
    await Promise.all(services.map((s) => s.signal('SIGTERM')));
    for (const s of services) expect(await allGone(s)).toBe(true);
    await db.signal('SIGTERM');
    expect(await allGone(db)).toBe(true);
  }

  let account: User;
  let roomId: string;
  const history = async (token: string) => {
    const res = await callersAt(gatewayUrl).as(token).gql(MessagesDocument, { roomId, first: 10 });
    return res.data!.messages.edges.map((e) => [e.node.body, e.node.author?.email]).reverse();
  };
  const login = async () =>
    (
      await callersAt(gatewayUrl)
        .anonymous()
        .gql(LoginDocument, { input: { email: account.email, password: account.password } })
    ).data!.login.accessToken;

  it('starts on a fresh data dir with every service migrating at once, and serves a tenant', async () => {
    const commands = await startAll();
    expect(commands[1].output()).toMatch(/embedded database at 127\.0\.0\.1:\d+ \(npm run start:db\)/);
    account = await callersAt(gatewayUrl).signUp('Separate');
    const rooms = await account.gql(RoomsDocument, {});
    roomId = rooms.data!.rooms.find((r) => r.name === 'general')!.id;
    await account.sendMessage(roomId, 'one');
    expect(await history(account.token)).toEqual([['one', account.email]]);
    await stopAll(commands);
  }, 240_000);

  it('starts again on the same data, keeps it, and takes more traffic', async () => {
    const commands = await startAll();
    const token = await login();
    expect(await history(token)).toEqual([['one', account.email]]);
    await callersAt(gatewayUrl).as(token).sendMessage(roomId, 'two');
    await callersAt(gatewayUrl).signUp('Second cycle');
    await stopAll(commands);
  }, 240_000);

  it('starts a third time with everything that was written', async () => {
    const commands = await startAll();
    const token = await login();
    expect(await history(token)).toEqual([
      ['one', account.email],
      ['two', account.email],
    ]);
    await stopAll(commands);
  }, 240_000);
});
