import { Field, ObjectType } from 'type-graphql';
import { User } from './user.entity';

@ObjectType('TenantUser', { description: 'A member of the current tenant with their roles' })
export class TenantUser {
  @Field(() => User)
  user: User;

  @Field(() => String, { description: 'System role: owner, admin or member' })
  role: string;

  @Field(() => [String], { description: 'Every role in effect, custom and through groups included' })
  roles: string[];

  @Field(() => [String])
  permissions: string[];

  @Field(() => Date)
  joinedAt: Date;
}
