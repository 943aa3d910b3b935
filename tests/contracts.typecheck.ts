/**
 * Compile-time proof that the contracts hold: every `@ts-expect-error` line below must fail to compile
 * (`npm run typecheck` fails if one of them starts compiling). Never run (not a .test.ts file), never built (tests/ is not in tsconfig.build.json).
 */
import type { EntityManager } from 'typeorm';
import type { InternalClient } from '../gateway/internal-client';
import { recordEvent } from '../kernel/events';
import { scheduleJob } from '../kernel/jobs';
import type { JobHandlers } from '../kernel/contracts/jobs';
import type { PubSub } from '../kernel/pubsub';
import { consumer, type EventOf } from '../kernel/contracts/events';
import type { InternalHandlers } from '../kernel/contracts/internal-calls';
import { PERMISSIONS_CHANGED_TOPIC, TENANT_STATUS_CHANGED_TOPIC, roomTopic } from '../kernel/contracts/topics';

declare const em: EntityManager;
declare const pubsub: PubSub;
declare const identity: InternalClient<'identity'>;
declare const tenancy: InternalClient<'tenancy'>;
const tenantId = '00000000-0000-4000-8000-000000000000';

export async function events(): Promise<void> {
  await recordEvent(em, 'tenancy', { type: 'tenancy.domain_verified', tenantId, payload: { tenantId, domain: 'a.b' } });
  // @ts-expect-error a misspelt payload field
  await recordEvent(em, 'tenancy', { type: 'tenancy.domain_verified', tenantId, payload: { tenantId, domian: 'a.b' } });
  // @ts-expect-error a field of another event's payload
  await recordEvent(em, 'identity', { type: 'identity.member_removed', tenantId, payload: { tenantId, role: 'x' } });
  // @ts-expect-error an event type that does not exist
  await recordEvent(em, 'identity', { type: 'identity.member_joined', tenantId, payload: { tenantId } });

  consumer({
    name: 'typed',
    types: ['identity.member_added', 'identity.member_removed'],
    handle: async (event: EventOf<'identity.member_added' | 'identity.member_removed'>) => {
      const { userId } = event.payload;
      if (event.type === 'identity.member_added') void event.payload.role.length;
      // @ts-expect-error only member_added carries a role
      void event.payload.role;
      // @ts-expect-error a misspelt payload field
      void event.payload.userID;
      void userId;
    },
  });
  const onDomain = async (event: EventOf<'tenancy.domain_verified'>) => void event.payload.domain;
  // @ts-expect-error a handler of another event type than the consumer's list
  consumer({ name: 'mismatched', types: ['identity.member_removed'], handle: onDomain });
}

export async function topics(): Promise<void> {
  await pubsub.publish(PERMISSIONS_CHANGED_TOPIC, { tenantId });
  // @ts-expect-error a misspelt message field
  await pubsub.publish(PERMISSIONS_CHANGED_TOPIC, { tenantID: tenantId });
  // @ts-expect-error a status the topic does not carry
  await pubsub.publish(TENANT_STATUS_CHANGED_TOPIC, { tenantId, status: 'paused' });
  // @ts-expect-error a topic that does not exist
  await pubsub.publish('platform.permission_changed', { tenantId });
  pubsub.listen(roomTopic(tenantId, tenantId), (event) => {
    void event.messageId;
    // @ts-expect-error a room event has no such field
    void event.messageID;
  });
}

export async function internalCalls(): Promise<void> {
  const status = await tenancy.call('tenant-status', { tenantId });
  void status?.status;
  // @ts-expect-error a misspelt request field
  await tenancy.call('tenant-status', { tenantID: tenantId });
  // @ts-expect-error a misspelt response field
  void (await identity.call('verify-api-key', { key: 'k' }))?.keyID;
  // @ts-expect-error a call another subgraph answers
  await identity.call('tenant-status', { tenantId });
  const handlers = {
    'verify-api-key': async () => null,
    'effective-permissions': async () => null,
  };
  // @ts-expect-error identity's handlers without its revocations call
  const incomplete: InternalHandlers<'identity'> = handlers;
  void incomplete;
}

export async function jobs(): Promise<void> {
  const runAt = new Date();
  await scheduleJob(em, 'tenancy', { name: 'trial-expiry', key: 'k', runAt, payload: { tenantId } });
  // @ts-expect-error a misspelt payload field
  await scheduleJob(em, 'tenancy', { name: 'trial-expiry', key: 'k', runAt, payload: { tenantID: tenantId } });
  // @ts-expect-error a job that does not exist
  await scheduleJob(em, 'tenancy', { name: 'trial-expired', key: 'k', runAt, payload: { tenantId } });
  const handlers: JobHandlers = { 'purge-tenant': async ({ tenantId }) => void tenantId.length };
  // @ts-expect-error a handler registered under a name that is not a job
  const misnamed: JobHandlers = { 'purge-tenants': async () => undefined };
  void handlers;
  void misnamed;
}
