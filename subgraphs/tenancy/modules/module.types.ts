import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { TEXT_LIMITS, lengthRange } from '../../../kernel/text';

/** What a module declares: the platform checks it when it is published and when a tenant installs it. */
export interface ModuleManifest {
  id: string;
  name: string;
  version: string;
  minPlatformVersion: string;
  dependencies: string[];
  /** Permission strings (`resource:action`) the module adds to a tenant that installs it. */
  permissions: string[];
  /** Limits and features the tenant is entitled to while the module is installed. */
  entitlements: Record<string, number | boolean | string>;
  emits: string[];
  consumes: string[];
}

@ObjectType('Module')
export class ModuleView {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String)
  version: string;

  @Field(() => String)
  minPlatformVersion: string;

  @Field(() => [ID])
  dependencies: string[];

  @Field(() => [String])
  permissions: string[];

  @Field(() => GraphQLJSONObject)
  entitlements: Record<string, unknown>;

  @Field(() => [String])
  emits: string[];

  @Field(() => [String])
  consumes: string[];

  @Field(() => Boolean, { description: 'Installed in the current tenant' })
  installed: boolean;

  @Field(() => String, { nullable: true, description: 'The version installed in the current tenant' })
  installedVersion: string | null;
}

@InputType()
export class PublishModuleInput {
  @Field(() => ID, { description: 'lower-case letters, digits and dashes' })
  id: string;

  @Field(() => String, {
    description: `${lengthRange(TEXT_LIMITS.moduleName)}; control and bidirectional formatting characters are removed`,
  })
  name: string;

  @Field(() => String, { description: 'semantic version, e.g. 1.2.0' })
  version: string;

  @Field(() => String, { description: 'semantic version, e.g. 1.0.0' })
  minPlatformVersion: string;

  @Field(() => [ID], { defaultValue: [] })
  dependencies: string[];

  @Field(() => [String], { defaultValue: [] })
  permissions: string[];

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: `At most 50: keys of ${lengthRange(TEXT_LIMITS.entitlementKey)}, values numbers, booleans or text of ${lengthRange(TEXT_LIMITS.entitlementValue, 0)}`,
  })
  entitlements?: Record<string, unknown> | null;

  @Field(() => [String], { defaultValue: [] })
  emits: string[];

  @Field(() => [String], { defaultValue: [] })
  consumes: string[];
}

@ObjectType()
export class Entitlement {
  @Field(() => String)
  key: string;

  @Field(() => GraphQLJSON, { description: 'A number (a limit), a boolean (a feature) or a string' })
  value: unknown;

  @Field(() => ID, { description: 'The installed module that grants it' })
  moduleId: string;
}
