import type { SubgraphDefinition } from '../../kernel/subgraph';
import { MessagingInit1763683200000 } from '../../migrations/messaging/1763683200000-messaging-init';
import { MessagingMessageLifecycle1764547200000 } from '../../migrations/messaging/1764547200000-messaging-message-lifecycle';
import { MessagingRooms1764633600000 } from '../../migrations/messaging/1764633600000-messaging-rooms';
import { Message } from './messages/message.entity';
import { MessageResolver, messageReferenceResolver } from './messages/message.resolver';
import { Room } from './rooms/room.entity';
import { RoomResolver, roomReferenceResolver } from './rooms/room.resolver';
import { createGeneralRoom, memberJoined, memberLeft } from './rooms/room.service';

/** Rooms and messages. */
export const messagingSubgraph: SubgraphDefinition = {
  name: 'messaging',
  entities: [Room, Message],
  migrations: [MessagingInit1763683200000, MessagingMessageLifecycle1764547200000, MessagingRooms1764633600000],
  resolvers: [RoomResolver, MessageResolver],
  referenceResolvers: (deps) => ({ ...roomReferenceResolver(deps), ...messageReferenceResolver(deps) }),
  consumers: () => [
    { name: 'general-room', types: ['identity.tenant_registered', 'tenancy.tenant_created'], handle: createGeneralRoom },
    { name: 'member-joined', types: ['identity.tenant_registered', 'tenancy.tenant_created', 'identity.member_added'], handle: memberJoined },
    { name: 'member-left', types: ['identity.member_removed'], handle: memberLeft },
  ],
};
