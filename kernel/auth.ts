import { Authorized as authorizedBy, type AuthCheckerFn, type MiddlewareFn } from 'type-graphql';
import type { Permission, PermissionName } from './contracts/permissions';
import type { AccessRestriction, RequestContext } from './context';
import { currentContext } from './context';
import { AppError, forbidden, unauthenticated } from './errors';

/** Root fields anyone may call without signing in (register, login, public lookups). */
const publicRootFields = new Set<string>();

/** Marks a query/mutation as callable without authentication. Everything else requires a signed-in caller. */
export function Public(): MethodDecorator {
  return (_target, propertyKey) => {
    publicRootFields.add(String(propertyKey));
  };
}

/** Whether a root field was marked @Public(). */
export function isPublicRootField(fieldName: string): boolean {
  return publicRootFields.has(fieldName);
}

export function isAuthenticated(ctx: RequestContext): boolean {
  return ctx.authMethod === 'system' || ctx.userId !== null;
}

/**
 * `resource:action` matching, with `*` and `resource:*` wildcards. A permission named in code must be catalogued
 * (`hasPermission(ctx, 'users:manage')`); a string from data (a role's, an API key's, a module's) is matched as it is.
 */
export function hasPermission<P extends string>(
  ctx: RequestContext,
  required: P extends unknown ? PermissionName<P> : never,
): boolean {
  const [resource] = required.split(':');
  return ctx.permissions.some((p) => p === '*' || p === required || p === `${resource}:*`);
}

const RESTRICTION_MESSAGES: Record<AccessRestriction, string> = {
  TWO_FACTOR_SETUP_REQUIRED:
    'This tenant requires two-factor authentication: set it up (enrollTotp, confirmTotp) to continue',
  EMAIL_VERIFICATION_REQUIRED:
    'Confirm your e-mail address (see the link we sent, or resendEmailVerification) to do this',
};

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/** Global middleware: a root field that is not @Public() refuses anonymous callers. */
export const requireAuthentication: MiddlewareFn = async ({ info }, next) => {
  if (ROOT_TYPES.has(info.parentType.name) && !publicRootFields.has(info.fieldName)) {
    if (!isAuthenticated(currentContext())) throw unauthenticated();
  }
  return next();
};

/**
/**
 * Requires every one of the permissions (of the catalogue, `kernel/contracts/permissions.ts`) on a root field, a field
 * or a resolver class; `authChecker` checks them. type-graphql's own `Authorized` takes any string: use this one.
 */
export function Authorized(...permissions: [Permission, ...Permission[]]) {
  return authorizedBy<Permission>(...permissions);
}

/**
 * Refuses a caller who is not signed in or lacks one of the permissions: with the restriction's code when the caller
 * is restricted (e.g. EMAIL_VERIFICATION_REQUIRED), else FORBIDDEN. Also for checks outside a resolver (subscribe).
 */
export function requirePermissions(ctx: RequestContext, required: readonly string[]): void {
  if (!isAuthenticated(ctx)) throw unauthenticated();
  const missing = required.filter((p) => !hasPermission(ctx, p));
  if (missing.length > 0) {
    const restriction = ctx.restrictions?.[0];
    if (restriction) throw new AppError(restriction, RESTRICTION_MESSAGES[restriction], { missing });
    throw forbidden(`Missing permission: ${missing.join(', ')}`);
  }
}

/** The single auth checker behind every `@Authorized("resource:action")`. */
export const authChecker: AuthCheckerFn = (_resolverData, required) => {
  requirePermissions(currentContext(), required);
  return true;
};
