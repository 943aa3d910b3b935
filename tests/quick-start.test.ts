import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateRoomDocument, LoginDocument, MessagesDocument } from './generated/graphql';
import { callersAt } from './support/client';

const root = resolve(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'nexus-quickstart-'));
const DEMO = { email: 'admin@demo.nexus.local', password: 'nexus-demo-password' };

interface Started {
  child: ChildProcess;
  gatewayUrl: string;
  output: () => string;
}

/** Runs the real `start all` entry point as a user would, on free ports, embedded database in dataDir. */
function startAll(): Promise<Started> {
  const ports = Object.fromEntries(
    ['GATEWAY', 'IDENTITY', 'TENANCY', 'COMMERCE', 'LEDGER', 'MESSAGING', 'INTELLIGENCE'].map((s) => [
      `${s}_PORT`,
      '0',
    ]),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...ports,
    NEXUS_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/cli/start.ts', 'all'], {
    cwd: root,
    env,
    stdio: 'pipe',
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`start timed out:\n${out}`)), 45_000);
    const check = () => {
      const match = /gateway\s+(http:\/\/\S+\/graphql)/.exec(out);
      if (match && out.includes('Demo tenant')) {
        clearTimeout(timer);
        resolvePromise({ child, gatewayUrl: match[1], output: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

function stopWith(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolvePromise) => {
    child.removeAllListeners('exit');
    child.once('exit', (code) => resolvePromise(code));
    child.kill(signal);
  });
}

describe('quick start: one command, embedded database', () => {
  it('starts everything, seeds a demo tenant, serves the first chat, stops cleanly on SIGTERM and keeps data', async () => {
    const first = await startAll();
    expect(first.output()).toContain(`${DEMO.email} / ${DEMO.password}`);
    const firstRun = callersAt(first.gatewayUrl);
    const demo = await firstRun.anonymous().gql(LoginDocument, { input: DEMO });
    expect(demo.data!.login.tenant.name).toBe('Demo');

    const account = await firstRun.signUp('Quick Start');
    const room = await account.gql(CreateRoomDocument, { input: { name: 'lobby' } });
    const roomId = room.data!.createRoom.id;
    await account.sendMessage(roomId, 'first!');
    expect(await stopWith(first.child, 'SIGTERM')).toBe(0);

    const second = await startAll();
    expect(second.output()).toContain('Demo tenant "Demo" (exists)');
    const secondRun = callersAt(second.gatewayUrl);
    const login = await secondRun.anonymous().gql(LoginDocument, {
      input: { email: account.email, password: account.password },
    });
    const history = await secondRun.as(login.data!.login.accessToken).gql(MessagesDocument, { roomId });
    expect(history.data!.messages.edges.map((e) => [e.node.body, e.node.author?.email])).toEqual([
      ['first!', account.email],
    ]);
    expect(await stopWith(second.child, 'SIGTERM')).toBe(0);
  }, 120_000);
});
