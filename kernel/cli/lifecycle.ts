import type { Logger } from 'pino';

/**
 * Stops a long-running command once: on SIGTERM or SIGINT, and when the process that started it is gone
 * (the command was orphaned: a wrapper such as npm or a shell was killed without passing the signal on).
 * Exits 0 after a clean stop, 1 after a failed one or when `forceAfterMs` passes first.
 */
export function stopOnSignals(stop: () => Promise<void>, options: { log: Logger; forceAfterMs: number }): void {
  const parent = process.ppid;
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    options.log.info({ reason }, 'shutting down');
    const force = setTimeout(() => {
      options.log.error({ reason, ms: options.forceAfterMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, options.forceAfterMs);
    force.unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        options.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const orphaned = setInterval(() => {
    if (process.ppid !== parent) shutdown('parent process exited');
  }, 1000);
  orphaned.unref();
}
