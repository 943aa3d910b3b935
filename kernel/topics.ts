/** Pub/sub topics shared between services: defined with their messages in kernel/contracts/topics.ts. */
export {
  API_KEY_REVOKED_TOPIC,
  CONNECTION_CLOSED_TOPIC,
  DOMAINS_CHANGED_TOPIC,
  LIMITS_CHANGED_TOPIC,
  PERMISSIONS_CHANGED_TOPIC,
  SESSION_REVOKED_TOPIC,
  SUBSCRIPTION_ACCESS_CHANGED_TOPIC,
  TENANT_STATUS_CHANGED_TOPIC,
} from './contracts/topics';
