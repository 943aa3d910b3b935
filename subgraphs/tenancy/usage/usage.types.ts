import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLBigInt } from 'graphql-scalars';

/** What is metered and limited per tenant. */
export enum Metric {
  API_CALLS = 'api_calls',
  MESSAGES = 'messages',
  MEMBERS = 'members',
  STORAGE_BYTES = 'storage_bytes',
  LLM_TOKENS = 'llm_tokens',
}
registerEnumType(Metric, { name: 'Metric' });

/** Metrics counted per calendar month (members and storage are levels, not counts). */
export const MONTHLY: readonly Metric[] = [Metric.API_CALLS, Metric.MESSAGES, Metric.LLM_TOKENS];

/** Plan-of-record defaults; a Super Admin sets a tenant's own with setTenantLimits. */
export const DEFAULT_LIMITS: Record<Metric, number> = {
  [Metric.API_CALLS]: 1_000_000,
  [Metric.MESSAGES]: 100_000,
  [Metric.MEMBERS]: 50,
  [Metric.STORAGE_BYTES]: 10 * 1024 ** 3,
  [Metric.LLM_TOKENS]: 1_000_000,
};

@ObjectType()
export class MetricUsage {
  @Field(() => Metric)
  metric: Metric;

  @Field(() => GraphQLBigInt, { description: 'Used in the period (members, storage: now)' })
  used: number;

  @Field(() => GraphQLBigInt)
  limit: number;

  @Field(() => Boolean)
  exceeded: boolean;
}

@ObjectType()
export class UsageBucket {
  @Field(() => Date)
  hour: Date;

  @Field(() => Metric)
  metric: Metric;

  @Field(() => String, { description: 'The module that used it (empty: the platform)' })
  module: string;

  @Field(() => GraphQLBigInt)
  amount: number;
}

@ObjectType()
export class TenantUsage {
  @Field(() => String, { description: 'YYYY-MM' })
  period: string;

  @Field(() => [MetricUsage])
  metrics: MetricUsage[];

  @Field(() => [UsageBucket], { description: 'Hourly buckets of the period, oldest first' })
  hourly: UsageBucket[];
}

@InputType()
export class TenantLimitsInput {
  @Field(() => Int, { nullable: true })
  apiCallsPerMonth?: number | null;

  @Field(() => Int, { nullable: true })
  messagesPerMonth?: number | null;

  @Field(() => Int, { nullable: true })
  members?: number | null;

  @Field(() => GraphQLBigInt, { nullable: true })
  storageBytes?: number | null;

  @Field(() => GraphQLBigInt, { nullable: true })
  llmTokensPerMonth?: number | null;
}
