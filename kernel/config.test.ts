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
    for (const key of ['GATEWAY_PORT', 'DATABASE_URL', 'LOG_LEVEL', 'ACCESS_TOKEN_TTL_SECONDS'])
      expect(problems).toContain(key);
  });

  it('requires the public signing keys in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /NEXUS_ACCESS_TOKEN_PUBLIC_KEY[\s\S]*NEXUS_CONTEXT_PUBLIC_KEY/,
    );
  });

  it('takes a variable set to nothing as unset (DATABASE_URL= from a compose file or a shell)', () => {
    const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '', GATEWAY_PORT: '', CORS_ORIGINS: '' });
    expect(config.database.DATABASE_URL).toBeUndefined();
    expect(config.realtime.REDIS_URL).toBeUndefined();
    expect(config.server.GATEWAY_PORT).toBe(4000);
    expect(config.gateway.CORS_ORIGINS).toEqual([]);
  });

  it('reads CORS_ORIGINS as origins (or *) and refuses anything with a path or another scheme', () => {
    expect(
      loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/' }).gateway.CORS_ORIGINS,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(loadConfig({ CORS_ORIGINS: '*' }).gateway.CORS_ORIGINS).toEqual(['*']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/login' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'ftp://files.example.com' })).toThrow(/CORS_ORIGINS/);
  });

  it('limits live subscriptions per socket, user, tenant and address by default, and takes positive numbers only', () => {
    expect(loadConfig({}).subscriptions).toEqual({
      WS_MAX_SOCKETS_PER_USER: 25,
      WS_MAX_SOCKETS_PER_ADDRESS: 100,
      WS_MAX_SUBSCRIPTIONS_PER_SOCKET: 50,
      WS_MAX_SUBSCRIPTIONS_PER_USER: 100,
      WS_MAX_SUBSCRIPTIONS_PER_TENANT: 2000,
      WS_MAX_SUBSCRIPTIONS_PER_ADDRESS: 400,
      WS_MAX_VARIANTS_PER_USER: 5,
      WS_MAX_VARIANTS_PER_TENANT: 50,
    });
    expect(loadConfig({ WS_MAX_SUBSCRIPTIONS_PER_USER: '10' }).subscriptions.WS_MAX_SUBSCRIPTIONS_PER_USER).toBe(10);
    expect(() => loadConfig({ WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '0', WS_MAX_SOCKETS_PER_USER: 'many' })).toThrow(
      /WS_MAX_SOCKETS_PER_USER[\s\S]*WS_MAX_SUBSCRIPTIONS_PER_SOCKET/,
    );
  });

  it('keeps Redis keys under REDIS_PREFIX (nexus: by default)', () => {
    expect(loadConfig({}).realtime.REDIS_PREFIX).toBe('nexus:');
    expect(loadConfig({ REDIS_PREFIX: 'staging:' }).realtime.REDIS_PREFIX).toBe('staging:');
    expect(() => loadConfig({ REDIS_PREFIX: 'has space' })).toThrow(/REDIS_PREFIX/);
  });
});
