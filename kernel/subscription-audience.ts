import { currentRequestState } from './context';

/**
 * Who may share a subscription's events. The gateway runs one upstream subscription and one execution
 * per event for all subscribers of the same operation, variables, tenant, rights and audience, after the
 * owning subgraph admitted each of them. A subscription whose events are the same for everyone allowed
 * in (a room's messages) declares that scope, e.g. `room:<id>`; one whose events depend on the viewer
 * (their unread counts) keeps the default, which is the caller alone.
 */
export const AUDIENCE_EXTENSION = 'nexusAudience';
/** Set in an operation's `extensions`: run the subscription's checks, answer with its audience, stop. */
export const PROBE_EXTENSION = 'nexusProbe';

export function declareAudience(audience: string): void {
  currentRequestState().responseExtensions[AUDIENCE_EXTENSION] = audience;
}

export function declaredAudience(extensions: Record<string, unknown>, userId: string | null): string {
  const declared = extensions[AUDIENCE_EXTENSION];
  return typeof declared === 'string' ? declared : `user:${userId ?? ''}`;
}
