import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { allGone, runCommand, type Command } from './support/processes';
import { callersAt } from './support/client';

/**
 * The README's quick start as a user follows it: `npm start` (embedded database), the curl conversation
 * and the graphql-ws snippet exactly as written (only the port differs), then SIGTERM to npm.
 */
const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const run = promisify(execFile);

/** The first fenced block of `lang` after `marker` in the README. */
function block(marker: string, lang: string): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no "${marker}"`);
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (!match) throw new Error(`README has no ${lang} block after "${marker}"`);
  return match[1];
}

let start: Command;
let gatewayUrl: string;
const dataDir = mkdtempSync(join(tmpdir(), 'nexus-readme-'));

beforeAll(async () => {
  const ports = Object.fromEntries(
    ['GATEWAY', 'IDENTITY', 'TENANCY', 'COMMERCE', 'LEDGER', 'MESSAGING', 'INTELLIGENCE'].map((s) => [
      `${s}_PORT`,
      '0',
    ]),
  );
  // DATABASE_URL set to nothing, as shells and compose files pass it: the embedded database.
  start = runCommand('npm', ['start'], {
    ...ports,
    DATABASE_URL: '',
    REDIS_URL: '',
    NEXUS_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
  });
  gatewayUrl = (await start.waitFor(/gateway\s+(http:\/\/\S+\/graphql)/, 90_000))[1];
  await start.waitFor(/Demo tenant/);
}, 100_000);

afterAll(() => {
  start?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('README quick start', () => {
  let token = '';
  let room = '';

  it('npm start says it runs on the embedded database', () => {
    expect(start.output()).toMatch(/Nexus Platform is up \([\d.]+ s, embedded database\)/);
  });

  it('answers the curl conversation with the output the README shows', async () => {
    const script = block('A first conversation with curl', 'bash');
    const expected = /^# (\{.*\})$/m.exec(script)![1];
    const origin = new URL(gatewayUrl).origin;
    const { stdout } = await run(
      'bash',
      [
        '-euo',
        'pipefail',
        '-c',
        `${script.replaceAll('http://127.0.0.1:4000', origin)}\nprintf '\\nTOKEN=%s\\nROOM=%s\\n' "$TOKEN" "$ROOM"`,
      ],
      {
        cwd: root,
        timeout: 60_000,
      },
    );
    const lines = stdout.trim().split('\n');
    token = /^TOKEN=(.+)$/m.exec(stdout)![1];
    room = /^ROOM=(.+)$/m.exec(stdout)![1];
    expect(lines).toContain(expected);
  }, 70_000);

  it('delivers live messages to the graphql-ws snippet, run as written with Node', async () => {
    const snippet = block('Live updates use the same URL over WebSocket', 'js');
    const cacheDir = join(root, 'node_modules', '.cache');
    mkdirSync(cacheDir, { recursive: true });
    const file = join(cacheDir, `nexus-readme-live-${randomBytes(4).toString('hex')}.mjs`);
    writeFileSync(file, snippet.replaceAll('ws://127.0.0.1:4000', new URL(gatewayUrl).origin.replace(/^http/, 'ws')));
    const live = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, TOKEN: token, ROOM: room },
      stdio: 'pipe',
    });
    let out = '';
    live.stdout.on('data', (d) => (out += d));
    live.stderr.on('data', (d) => (out += d));
    try {
      // Until the subscription is up, messages go by unseen: send until one arrives.
      let sent = 0;
      const deadline = Date.now() + 30_000;
      while (!out.includes('messageAdded') && Date.now() < deadline) {
        await callersAt(gatewayUrl).as(token).sendMessage(room, `live ${++sent}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const line = out.split('\n').find((l) => l.includes('messageAdded'));
      expect(line).toMatch(
        /^\{"data":\{"messageAdded":\{"body":"live \d+","author":\{"email":"ada@example\.com"\}\}\}\}$/,
      );
      expect(readme).toContain('`{"data":{"messageAdded":{"body":"…","author":{"email":"ada@example.com"}}}}`');
    } finally {
      live.kill();
      rmSync(file, { force: true });
    }
  }, 40_000);

  it('stops everything it started when npm gets SIGTERM', async () => {
    await start.signal('SIGTERM');
    expect(await allGone(start, 20_000)).toBe(true);
  }, 30_000);
});
