import type { SubgraphDefinition } from '../../kernel/subgraph';
import { consumer } from '../../kernel/contracts/events';
import { MessagingInit1763683200000 } from '../../migrations/messaging/1763683200000-messaging-init';
import { MessagingMessageLifecycle1764547200000 } from '../../migrations/messaging/1764547200000-messaging-message-lifecycle';
import { MessagingRooms1764633600000 } from '../../migrations/messaging/1764633600000-messaging-rooms';
import { MessagingRealtime1765152000000 } from '../../migrations/messaging/1765152000000-messaging-realtime';
import { Message } from './messages/message.entity';
import { ModerationResolver } from './moderation/moderation.resolver';
import { PresenceService } from './realtime/presence.service';
import { tenantSettingsChanged } from './realtime/reads.service';
import { RealtimeResolver } from './realtime/realtime.resolver';
import { WebhookResolver } from './webhooks/webhook.resolver';
import { WebhookService } from './webhooks/webhook.service';
import { MessageResolver, messageReferenceResolver } from './messages/message.resolver';
import { Room } from './rooms/room.entity';
import { RoomResolver, roomReferenceResolver } from './rooms/room.resolver';
import { createGeneralRoom, memberJoined, memberLeft, memberRoleChanged } from './rooms/room.service';

/** Rooms, messages, read pointers, typing, presence, moderation. */
export const messagingSubgraph: SubgraphDefinition = {
  name: 'messaging',
  entities: [Room, Message],
  migrations: [
    MessagingInit1763683200000,
    MessagingMessageLifecycle1764547200000,
    MessagingRooms1764633600000,
    MessagingRealtime1765152000000,
  ],
  resolvers: [RoomResolver, MessageResolver, RealtimeResolver, ModerationResolver, WebhookResolver],
  hooks: (deps) => {
    const webhooks = new WebhookService(deps);
    return (req) => webhooks.receive(req);
  },
  referenceResolvers: (deps) => ({ ...roomReferenceResolver(deps), ...messageReferenceResolver(deps) }),
  consumers: () => [
    consumer({
      name: 'general-room',
      types: ['identity.tenant_registered', 'tenancy.tenant_created'],
      handle: createGeneralRoom,
    }),
    consumer({
      name: 'member-joined',
      types: ['identity.tenant_registered', 'tenancy.tenant_created', 'identity.member_added'],
      handle: memberJoined,
    }),
    consumer({ name: 'member-left', types: ['identity.member_removed'], handle: memberLeft }),
    consumer({ name: 'tenant-settings', types: ['tenancy.settings_changed'], handle: tenantSettingsChanged }),
    consumer({ name: 'member-role', types: ['identity.member_role_changed'], handle: memberRoleChanged }),
  ],
  background: (deps) => new PresenceService(deps).start(),
};
