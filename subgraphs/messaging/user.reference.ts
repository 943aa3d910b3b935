import { Directive, Field, ID, ObjectType } from 'type-graphql';

/** User is owned by identity; messaging refers to it by id. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType('User')
export class UserReference {
  @Field(() => ID)
  id: string;
}
