import pino, { type Logger } from 'pino';
import { peekContext } from './context';

const root: Logger = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
  base: { pid: process.pid },
  mixin() {
    const ctx = peekContext();
    return ctx ? { requestId: ctx.requestId, tenantId: ctx.tenantId } : {};
  },
  redact: ['password', '*.password', 'accessToken', 'refreshToken', '*.accessToken', '*.refreshToken'],
});

/** One child logger per module; every line carries requestId and tenantId when inside a request. */
export function logger(module: string): Logger {
  return root.child({ module });
}

export function setLogLevel(level: string): void {
  root.level = level;
}
