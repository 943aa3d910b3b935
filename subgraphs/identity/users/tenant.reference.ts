import { Directive, Field, ID, ObjectType } from 'type-graphql';

/** Tenant is owned by the tenancy subgraph; identity only refers to it by id. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType('Tenant')
export class TenantReference {
  @Field(() => ID)
  id: string;
}
