import { spawn, type ChildProcess } from 'node:child_process';
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
  const child = spawn(process.execPath, ['--import', 'tsx', 'kernel/cli/start.ts', services], {
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
      const urls = Object.fromEntries([...out.matchAll(/^\s+(\w+)\s+(http:\/\/\S+\/graphql)$/gm)].map((m) => [m[1], m[2]]));
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
