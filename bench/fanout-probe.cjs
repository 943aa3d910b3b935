/* global process, setTimeout */
'use strict';

/**
 * Preloaded (`--require`) into a process whose memory the fan-out benchmark reads: on SIGUSR2 it runs
 * a full garbage collection (when started with --expose-gc), lets it settle, and writes one line
 * `fanout-memory {"rss":…,"heapUsed":…,"external":…,"arrayBuffers":…,"gc":true}` to stderr.
 */
process.on('SIGUSR2', () => {
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : null;
  if (gc) {
    gc();
    gc();
  }
  setTimeout(() => {
    if (gc) gc();
    const m = process.memoryUsage();
    const line = {
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      gc: gc !== null,
    };
    process.stderr.write(`fanout-memory ${JSON.stringify(line)}\n`);
  }, 300);
});
