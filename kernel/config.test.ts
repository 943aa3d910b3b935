import { ConfigError, loadConfig } from './config';

describe('configuration', () => {
  it('starts with defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.server.GATEWAY_PORT).toBe(4000);
    expect(config.database.DATABASE_URL).toBeUndefined();
    expect(config.database.NEXUS_DATA_DIR).toBe('.nexus');
  });

  it('reports every problem of every concern at once', () => {
    let error: unknown;
    try {
      loadConfig({ GATEWAY_PORT: 'http', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', ACCESS_TOKEN_TTL_SECONDS: '5' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['GATEWAY_PORT', 'DATABASE_URL', 'LOG_LEVEL', 'ACCESS_TOKEN_TTL_SECONDS']) expect(problems).toContain(key);
  });

  it('requires the public signing keys in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/NEXUS_ACCESS_TOKEN_PUBLIC_KEY[\s\S]*NEXUS_CONTEXT_PUBLIC_KEY/);
  });
});
