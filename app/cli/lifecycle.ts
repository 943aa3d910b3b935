import type { Logger } from 'pino';

/**
 * Stops a long-running command once: on SIGTERM or SIGINT, and when the process that started it is gone
 * (the command was orphaned: a wrapper such as npm or a shell was killed without passing the signal on).
 * Call it first thing; `started(stop)` hands over how to stop once there is something to stop. A stop
 * asked for while starting runs as soon as start-up is done. Exits 0 after a clean stop, 1 after a failed
 * one or when `forceAfterMs` passes first.
 */
export function stopOnSignals(options: { log: Logger; forceAfterMs: number }): {
  started(stop: () => Promise<void>): void;
} {
  const parent = process.ppid;
  let stop: (() => Promise<void>) | null = null;
  let reason: string | null = null;
  const run = () => {
    options.log.info({ reason }, 'shutting down');
    stop!().then(
      () => process.exit(0),
      (err) => {
        options.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const shutdown = (why: string) => {
    if (reason) return;
    reason = why;
    const force = setTimeout(() => {
      options.log.error({ reason, ms: options.forceAfterMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, options.forceAfterMs);
    force.unref();
    if (stop) run();
    else options.log.info({ reason }, 'stopping once start-up is done');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const orphaned = setInterval(() => {
    if (process.ppid !== parent) shutdown('parent process exited');
  }, 1000);
  orphaned.unref();
  return {
    started(fn) {
      stop = fn;
      if (reason) run();
    },
  };
}
