import { ConfigError, loadConfig } from '../../kernel/config';
import { prepareDatabase } from '../../kernel/db/bootstrap';
import { openDatabase } from '../../kernel/db/database';
import { PostgresEventBus } from '../../kernel/event-bus';
import { RedisStreamsEventBus } from '../../kernel/redis-event-bus';

/** `npm run dead-letters [limit]`: events a consumer gave up on (newest first), for platform operators. */
async function main(): Promise<void> {
  const config = loadConfig();
  const limit = Number(process.argv[2] ?? 50);
  if (!Number.isInteger(limit) || limit < 1) throw new Error('limit must be a positive whole number');
  const db = config.realtime.REDIS_URL ? null : await openDatabase(config);
  if (db) await prepareDatabase(db.url);
  const bus = config.realtime.REDIS_URL
    ? new RedisStreamsEventBus(config.realtime.REDIS_URL, { prefix: config.realtime.REDIS_PREFIX })
    : new PostgresEventBus(db!.url);
  try {
    const letters = await bus.deadLetters(limit);
    if (letters.length === 0) process.stdout.write('No dead letters.\n');
    for (const d of letters) {
      process.stdout.write(
        `${d.failedAt.toISOString()}  ${d.consumerGroup}  ${d.type}  ${d.eventId}  attempts=${d.attempts}  ${d.lastError ?? ''}\n`,
      );
    }
  } finally {
    await bus.close();
    await db?.stop();
  }
}

main().catch((err) => {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
