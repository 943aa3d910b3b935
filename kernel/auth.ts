import type { AuthCheckerFn, MiddlewareFn } from 'type-graphql';
import type { RequestContext } from './context';
import { currentContext } from './context';
import { forbidden, unauthenticated } from './errors';

/** Root fields anyone may call without signing in (register, login, public lookups). */
const publicRootFields = new Set<string>();

/** Marks a query/mutation as callable without authentication. Everything else requires a signed-in caller. */
export function Public(): MethodDecorator {
  return (_target, propertyKey) => {
    publicRootFields.add(String(propertyKey));
  };
}

export function isAuthenticated(ctx: RequestContext): boolean {
  return ctx.authMethod === 'system' || ctx.userId !== null;
}

/** `resource:action` matching, with `*` and `resource:*` wildcards. */
export function hasPermission(ctx: RequestContext, required: string): boolean {
  const [resource] = required.split(':');
  return ctx.permissions.some((p) => p === '*' || p === required || p === `${resource}:*`);
}

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/** Global middleware: a root field that is not @Public() refuses anonymous callers. */
export const requireAuthentication: MiddlewareFn = async ({ info }, next) => {
  if (ROOT_TYPES.has(info.parentType.name) && !publicRootFields.has(info.fieldName)) {
    if (!isAuthenticated(currentContext())) throw unauthenticated();
  }
  return next();
};

/** The single auth checker behind every `@Authorized("resource:action")`. */
export const authChecker: AuthCheckerFn = (_resolverData, required) => {
  const ctx = currentContext();
  if (!isAuthenticated(ctx)) throw unauthenticated();
  const missing = required.filter((p) => !hasPermission(ctx, p));
  if (missing.length > 0) throw forbidden(`Missing permission: ${missing.join(', ')}`);
  return true;
};
