import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

/** A service process started the way an operator would (`start <services>`), with the URLs it printed. */
export interface ServiceProcess {
  child: ChildProcess;
  urls: Record<string, string>;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startServices(services: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/cli/start.ts', services], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'development', SEED_DEMO: 'false', ...env },
    stdio: 'pipe',
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${services} did not start:\n${out}`)), timeoutMs);
    const check = () => {
      if (!out.includes('Nexus Platform is up')) return;
      clearTimeout(timer);
      const urls = Object.fromEntries(
        [...out.matchAll(/^\s+(\w+)\s+(http:\/\/\S+\/graphql)$/gm)].map((m) => [m[1], m[2]]),
      );
      resolvePromise({
        child,
        urls,
        output: () => out,
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${services} exited with ${code}:\n${out}`));
    });
  });
}

/** A command run as a user types it (`npm start`, `npm run start:db`…), in a process group of its own. */
export interface Command {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in the output (rejects when the command exits first or after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Signals the command's own process (npm, not what it started) and resolves with its exit code. */
  signal(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
  /** Whether any process of its group (npm, the shell, node, child processes) is still running. */
  anyLeft(): boolean;
  /** Kills whatever of its group is left (cleanup after a failed test). */
  kill(): void;
}

export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Command {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe', detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const append = (d: Buffer) => {
    out += d;
    for (const l of listeners) l();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const anyLeft = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, ms = 90_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (!match) return;
          done();
          resolvePromise(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${command} ${args.join(' ')}: no ${pattern} after ${ms} ms:\n${out}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`${command} ${args.join(' ')} exited with ${code} before ${pattern}:\n${out}`));
        });
        check();
      });
    },
    signal(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    anyLeft,
    kill() {
      if (anyLeft()) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}

/** Waits until nothing of the command's process group runs any more (false after `ms`). */
export async function allGone(command: Command, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (command.anyLeft()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Ports free right now on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((r) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => r(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
