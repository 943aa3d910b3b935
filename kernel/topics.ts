/** Pub/sub topics shared between services (payloads are JSON). */

/** `{ sessionId, userId, tenantId }`: a session was signed out; gateways end it at once. */
export const SESSION_REVOKED_TOPIC = 'platform.session_revoked';

/** `{ tenantId, status }`: a tenant's status changed (active, suspended, trial_expired, deleted, purged); gateways end or allow its members' requests at once. */
export const TENANT_STATUS_CHANGED_TOPIC = 'platform.tenant_status_changed';

/** `{ keyId, prefix }`: an API key was revoked; gateways forget it at once. */
export const API_KEY_REVOKED_TOPIC = 'platform.api_key_revoked';

/** `{ tenantId }`: roles, groups or assignments changed; gateways re-read permissions on the next request. */
export const PERMISSIONS_CHANGED_TOPIC = 'platform.permissions_changed';

/** `{ domain }`: a custom domain was verified, lost its verification or was removed; gateways forget what they knew of it. */
export const DOMAINS_CHANGED_TOPIC = 'platform.domains_changed';

/** `{ tenantId }`: a tenant's plan-of-record limits changed; gateways read its quota status again. */
export const LIMITS_CHANGED_TOPIC = 'platform.limits_changed';

/** `{ tenantId, userIds? }`: someone's access to subscriptions changed (left a room, banned…); gateways admit their live subscriptions again (no userIds: everyone in the tenant). */
export const SUBSCRIPTION_ACCESS_CHANGED_TOPIC = 'platform.subscription_access_changed';

/** `{ tenantId, userId, connectionId }`: a client's WebSocket connection to a gateway closed (its presence there ends). */
export const CONNECTION_CLOSED_TOPIC = 'platform.connection_closed';
