/** Pub/sub topics shared between services (payloads are JSON). */

/** `{ sessionId, userId, tenantId }`: a session was signed out; gateways end it at once. */
export const SESSION_REVOKED_TOPIC = 'platform.session_revoked';

/** `{ tenantId }`: a tenant was suspended; gateways end its members' connections. */
export const TENANT_SUSPENDED_TOPIC = 'platform.tenant_suspended';

/** `{ keyId, prefix }`: an API key was revoked; gateways forget it at once. */
export const API_KEY_REVOKED_TOPIC = 'platform.api_key_revoked';

/** `{ tenantId }`: roles, groups or assignments changed; gateways re-read permissions on the next request. */
export const PERMISSIONS_CHANGED_TOPIC = 'platform.permissions_changed';
