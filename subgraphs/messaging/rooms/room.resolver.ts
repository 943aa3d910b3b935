import { Arg, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../../../kernel/auth';
import { currentContext } from '../../../kernel/context';
import { requestLoader } from '../../../kernel/loaders';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { CreateRoomInput } from './create-room.input';
import { Room } from './room.entity';
import { RoomService } from './room.service';

@Resolver(() => Room)
export class RoomResolver {
  private readonly service: RoomService;
  constructor(deps: SubgraphDeps) {
    this.service = new RoomService(deps);
  }

  @Authorized('rooms:read')
  @Query(() => [Room], { name: 'rooms', description: "The current tenant's rooms" })
  rooms(): Promise<Room[]> {
    return this.service.list(currentContext());
  }

  @Authorized('rooms:create')
  @Mutation(() => Room, {
    description: 'A GENERAL room (open to the tenant) or an ALLIANCE room (members only; you own it)',
  })
  createRoom(@Arg('input', () => CreateRoomInput) input: CreateRoomInput): Promise<Room> {
    return this.service.create(currentContext(), input);
  }

  @Authorized('messages:send')
  @Mutation(() => Room, { description: 'Your direct room with another person of the tenant (one per pair)' })
  openDirectRoom(@Arg('userId', () => ID) userId: string): Promise<Room> {
    return this.service.openDirect(currentContext(), userId);
  }

  @Authorized('messages:send')
  @Mutation(() => Room, { description: "Your support room with the tenant's team" })
  openSupportRoom(): Promise<Room> {
    return this.service.openSupport(currentContext());
  }

  @Authorized('rooms:read')
  @Mutation(() => Boolean, {
    description: "Adds someone of the tenant to an alliance room (the room's owner or admins)",
  })
  inviteToRoom(@Arg('roomId', () => ID) roomId: string, @Arg('userId', () => ID) userId: string): Promise<boolean> {
    return this.service.invite(currentContext(), roomId, userId);
  }

  @Authorized('rooms:read')
  @Mutation(() => Boolean)
  leaveRoom(@Arg('roomId', () => ID) roomId: string): Promise<boolean> {
    return this.service.leave(currentContext(), roomId);
  }

  @Authorized('rooms:read')
  @Mutation(() => Room, { description: 'Makes a room read-only (its owner or admins, or a tenant admin)' })
  archiveRoom(@Arg('roomId', () => ID) roomId: string): Promise<Room> {
    return this.service.archive(currentContext(), roomId);
  }
}

export function roomReferenceResolver(deps: SubgraphDeps) {
  const rooms = new RoomService(deps);
  return {
    Room: {
      __resolveReference: (ref: { id: string }) =>
        requestLoader<Room>('messaging.room', (ids) => rooms.byIds(currentContext(), ids)).load(ref.id),
    },
  };
}
