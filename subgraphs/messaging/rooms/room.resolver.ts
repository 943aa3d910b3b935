import { Arg, Authorized, Mutation, Query, Resolver } from 'type-graphql';
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
  @Mutation(() => Room)
  createRoom(@Arg('input', () => CreateRoomInput) input: CreateRoomInput): Promise<Room> {
    return this.service.create(currentContext(), input);
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
