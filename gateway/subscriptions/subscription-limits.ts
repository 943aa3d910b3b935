import { GraphQLError } from 'graphql';
import type { Config } from '../../kernel/config';
import { addressBucket } from '../../kernel/http/client-address';

/** What each socket, user, tenant and client address may hold at one gateway (see the README's configuration). */
export interface SubscriptionLimits {
  socketsPerUser: number;
  socketsPerAddress: number;
  perSocket: number;
  perUser: number;
  perTenant: number;
  perAddress: number;
  /** Different selections of one stream (same root field and arguments) per user, and per tenant. */
  variantsPerUser: number;
  variantsPerTenant: number;
}

export function subscriptionLimitsFrom(config: Config['subscriptions']): SubscriptionLimits {
  return {
    socketsPerUser: config.WS_MAX_SOCKETS_PER_USER,
    socketsPerAddress: config.WS_MAX_SOCKETS_PER_ADDRESS,
    perSocket: config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
    perUser: config.WS_MAX_SUBSCRIPTIONS_PER_USER,
    perTenant: config.WS_MAX_SUBSCRIPTIONS_PER_TENANT,
    perAddress: config.WS_MAX_SUBSCRIPTIONS_PER_ADDRESS,
    variantsPerUser: config.WS_MAX_VARIANTS_PER_USER,
    variantsPerTenant: config.WS_MAX_VARIANTS_PER_TENANT,
  };
}

export const SUBSCRIPTION_LIMIT_EXCEEDED = 'SUBSCRIPTION_LIMIT_EXCEEDED';

/** Which limit refused a subscription (`extensions.scope`). */
export type LimitScope = 'socket' | 'user' | 'tenant' | 'address' | 'user_variants' | 'tenant_variants';

function refusal(scope: LimitScope, limit: number, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: SUBSCRIPTION_LIMIT_EXCEEDED, scope, limit } });
}

/** Counts per key (user, tenant, address); a key back at zero is forgotten. */
class Tally {
  private readonly counts = new Map<string, number>();

  get(key: string | null): number {
    return key === null ? 0 : (this.counts.get(key) ?? 0);
  }

  add(key: string | null, delta: number): void {
    if (key === null) return;
    const n = this.get(key) + delta;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}

/** Distinct variants held per scope (a user's or a tenant's stream), each with how many hold it. */
class Variants {
  private readonly scopes = new Map<string, Map<string, number>>();

  /** Whether one more holder of `variant` fits within `limit` distinct variants. */
  fits(scope: string, variant: string, limit: number): boolean {
    const held = this.scopes.get(scope);
    return !held || held.has(variant) || held.size < limit;
  }

  add(scope: string, variant: string, delta: number): void {
    let held = this.scopes.get(scope);
    if (!held) this.scopes.set(scope, (held = new Map()));
    const n = (held.get(variant) ?? 0) + delta;
    if (n > 0) held.set(variant, n);
    else held.delete(variant);
    if (held.size === 0) this.scopes.delete(scope);
  }
}

/** One subscription as counted against the limits. */
export interface SubscriptionClaim {
  userId: string | null;
  tenantId: string | null;
  address: string | null;
  /** The subgraph, root field and argument values: the events, whatever is selected of them. */
  stream: string;
  /** What else makes its results differ within the stream (selection, variables, rights). */
  variant: string;
  /** Its estimated cost per event (as a query's). */
  cost: number;
}

/** What one socket holds, kept by the socket. */
export interface SocketHoldings {
  count: number;
  cost: number;
}

/**
 * Every live subscription and socket, counted per socket, user, tenant and client address, with the
 * different selections of one stream per user and per tenant (each costs a lookup per event). A claim is
 * checked against every limit before the owning subgraph is asked anything; what was admitted is released
 * exactly once.
 */
export class SubscriptionLimiter {
  private readonly socketsByUser = new Tally();
  private readonly socketsByAddress = new Tally();
  private readonly openByAddress = new Tally();
  private readonly byUser = new Tally();
  private readonly byTenant = new Tally();
  private readonly byAddress = new Tally();
  private readonly variants = new Variants();

  constructor(
    readonly limits: SubscriptionLimits,
    /** Per-event cost a socket's subscriptions may add up to (LIMIT_MAX_COST, as one query). */
    private readonly maxCostPerSocket: number,
  ) {}

  /** A WebSocket handshake from `address`: false when it already has far more sockets open than it may keep. */
  mayOpen(raw: string | null): boolean {
    const address = bucket(raw);
    return this.openByAddress.get(address) < 2 * this.limits.socketsPerAddress;
  }

  /** A socket was opened (authenticated or not yet); returns what to call when it closes. */
  opened(raw: string | null): () => void {
    const address = bucket(raw);
    this.openByAddress.add(address, 1);
    return once(() => this.openByAddress.add(address, -1));
  }

  /** An authenticated socket: a release function, or the reason it may not stay open. */
  admitSocket(userId: string | null, raw: string | null): { release: () => void } | { refused: string } {
    const address = bucket(raw);
    if (userId !== null && this.socketsByUser.get(userId) >= this.limits.socketsPerUser) {
      return { refused: `Too many connections for this user (at most ${this.limits.socketsPerUser})` };
    }
    if (this.socketsByAddress.get(address) >= this.limits.socketsPerAddress) {
      return { refused: `Too many connections from this address (at most ${this.limits.socketsPerAddress})` };
    }
    this.socketsByUser.add(userId, 1);
    this.socketsByAddress.add(address, 1);
    return {
      release: once(() => {
        this.socketsByUser.add(userId, -1);
        this.socketsByAddress.add(address, -1);
      }),
    };
  }

  /** Admits one more subscription on a socket holding `socket`: a release function, or the refusal to send. */
  reserve(given: SubscriptionClaim, socket: SocketHoldings): (() => void) | GraphQLError {
    const claim = { ...given, address: bucket(given.address) };
    const l = this.limits;
    if (socket.count >= l.perSocket)
      return refusal('socket', l.perSocket, `Too many subscriptions on this connection (at most ${l.perSocket})`);
    if (socket.cost + claim.cost > this.maxCostPerSocket) {
      return new GraphQLError(
        `The subscriptions of this connection would cost ${socket.cost + claim.cost} per event; the limit is ${this.maxCostPerSocket}`,
        { extensions: { code: 'COST_LIMIT_EXCEEDED' } },
      );
    }
    if (this.byUser.get(claim.userId) >= l.perUser)
      return refusal('user', l.perUser, `Too many subscriptions for this user (at most ${l.perUser})`);
    if (this.byTenant.get(claim.tenantId) >= l.perTenant)
      return refusal('tenant', l.perTenant, `Too many subscriptions for this tenant (at most ${l.perTenant})`);
    if (this.byAddress.get(claim.address) >= l.perAddress)
      return refusal('address', l.perAddress, `Too many subscriptions from this address (at most ${l.perAddress})`);
    const userScope = claim.userId === null ? null : `${claim.userId}\n${claim.tenantId ?? ''}\n${claim.stream}`;
    const tenantScope = claim.tenantId === null ? null : `${claim.tenantId}\n${claim.stream}`;
    if (userScope !== null && !this.variants.fits(userScope, claim.variant, l.variantsPerUser)) {
      return refusal(
        'user_variants',
        l.variantsPerUser,
        `Too many different selections of this subscription for this user (at most ${l.variantsPerUser}); select the same fields in each`,
      );
    }
    if (tenantScope !== null && !this.variants.fits(tenantScope, claim.variant, l.variantsPerTenant)) {
      return refusal(
        'tenant_variants',
        l.variantsPerTenant,
        `Too many different selections of this subscription in this tenant (at most ${l.variantsPerTenant})`,
      );
    }
    const change = (delta: number) => {
      this.byUser.add(claim.userId, delta);
      this.byTenant.add(claim.tenantId, delta);
      this.byAddress.add(claim.address, delta);
      if (userScope !== null) this.variants.add(userScope, claim.variant, delta);
      if (tenantScope !== null) this.variants.add(tenantScope, claim.variant, delta);
      socket.count += delta;
      socket.cost += delta * claim.cost;
    };
    change(1);
    return once(() => change(-1));
  }
}

/** Addresses are counted by network where one client holds many (an IPv6 address by its /64). */
function bucket(address: string | null): string | null {
  return address === null ? null : addressBucket(address);
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
