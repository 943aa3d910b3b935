import Redis from 'ioredis';

/**
 * Leaves the shared Redis as it was: deletes every key under a test run's own prefix (REDIS_PREFIX).
 * Nothing to do without REDIS_URL.
 */
export async function dropRedisKeys(prefix: string): Promise<void> {
  if (!process.env.REDIS_URL) return;
  const redis = new Redis(process.env.REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
