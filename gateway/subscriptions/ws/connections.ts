import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import type { RequestContext } from '../../../kernel/context';
import { logger } from '../../../kernel/log';
import { authenticate, type AuthSettings } from '../../authenticate';
import type { AccessGuard } from '../sessions';
import type { SocketHoldings, SubscriptionLimiter } from '../subscription-limits';
import {
  CLOSE_FORBIDDEN,
  CLOSE_INTERNAL_ERROR,
  CLOSE_TOO_MANY,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHORIZED,
  checksUnavailable,
  closeSocket as close,
} from './close-codes';

const log = logger('gateway.ws');

export interface Connection {
  ctx?: RequestContext;
  /** The context as authenticated from the credential, before current rights were applied. */
  authenticated: RequestContext;
  /** The bearer credential (access token or API key) presented at connect. */
  credential: string;
  expiresAt?: number;
  address: string | null;
  /** Whom its sockets and subscriptions count against: the user, or the API key (by its prefix) for a key. */
  holder: string | null;
  /** Subscriptions it holds (count and cost per event), each with its release, by its subscribe message. */
  holdings: SocketHoldings;
  held: Map<object, () => void>;
  releaseSocket: () => void;
}

export interface ConnectionOptions {
  guard: AccessGuard;
  auth: AuthSettings;
  limiter: SubscriptionLimiter;
  addressOf: (req: IncomingMessage) => string | null;
  /** The caller's context as of now (null: no longer allowed); see GatewayWsOptions.revalidate. */
  revalidate: (authenticated: RequestContext, credential: string) => Promise<RequestContext | null>;
}

function tokenFrom(params: Record<string, unknown> | undefined): string | undefined {
  const raw = params?.authorization ?? params?.Authorization ?? params?.accessToken;
  if (typeof raw !== 'string') return undefined;
  return raw.startsWith('Bearer ') ? raw : `Bearer ${raw}`;
}

function claimsExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp?: number };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The sockets open on the gateway and who holds each: admitted at `connection_init` (authenticated, current rights
 * applied, counted against the user's and the address's connection limits), checked again before every event
 * and subscription, and closed with the code the client acts on when that changes.
 */
export class ConnectionRegistry {
  private readonly sockets = new Map<WebSocket, Connection>();
  private readonly stopGuard: () => void;

  constructor(private readonly options: ConnectionOptions) {
    this.stopGuard = options.guard.onChange((kind, id) => {
      for (const [socket, c] of this.sockets) {
        if (kind === 'api_key' && c.credential.startsWith(`${id}_`))
          close(socket, CLOSE_UNAUTHORIZED, 'API key revoked');
        else if (kind === 'permissions' && c.ctx?.tenantId === id) void this.recheck(socket, c);
        else this.stillValid(socket, c);
      }
    });
  }

  /** Whether the connection may go on as it is (closes it when its session, tenant or token ended). */
  stillValid(socket: WebSocket, c: Connection): boolean {
    const ctx = c.ctx;
    if (!ctx) return false;
    const guard = this.options.guard;
    if (guard.isRevoked(ctx.sessionId)) return close(socket, CLOSE_UNAUTHORIZED, 'Session revoked');
    if (guard.isSuspended(ctx.tenantId)) return close(socket, CLOSE_FORBIDDEN, 'Tenant suspended');
    if (c.expiresAt !== undefined && c.expiresAt <= Date.now())
      return close(socket, CLOSE_UNAUTHORIZED, 'Access token expired');
    return true;
  }

  /** Re-reads the caller's rights: gone → 4403 (4401 for a key); changed → 4401 so the client reconnects with them. */
  async recheck(socket: WebSocket, c: Connection): Promise<boolean> {
    if (!this.stillValid(socket, c)) return false;
    let now: RequestContext | null;
    try {
      now = await this.options.revalidate(c.authenticated, c.credential);
    } catch (err) {
      // Fails closed: a socket whose caller cannot be checked is not kept.
      if (checksUnavailable(err)) return close(socket, CLOSE_TRY_AGAIN_LATER, 'Try again later');
      log.error({ err }, 'could not check a connection again');
      return close(socket, CLOSE_INTERNAL_ERROR, 'Internal error');
    }
    if (!now)
      return close(
        socket,
        c.authenticated.authMethod === 'api_key' ? CLOSE_UNAUTHORIZED : CLOSE_FORBIDDEN,
        'Access revoked',
      );
    const before = c.ctx?.permissions.join(' ');
    if (before !== now.permissions.join(' '))
      return close(socket, CLOSE_UNAUTHORIZED, 'Permissions changed; reconnect');
    return true;
  }

  /**
   * `connection_init`: the connection admitted (set on `extra`), or the socket closed with why not — 4401 no or
   * an invalid token, 4403 no longer a member, 4429 too many connections, 1013 cannot be checked now.
   */
  async connect(
    extra: { connection?: Connection; socket: WebSocket; request: IncomingMessage },
    params: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    const token = tokenFrom(params);
    if (!token) return close(extra.socket, CLOSE_UNAUTHORIZED, 'Missing access token');
    try {
      const connection = await this.admit(extra.socket, extra.request, token);
      if (!connection) return false;
      extra.connection = connection;
      if (!this.stillValid(extra.socket, connection)) {
        connection.releaseSocket();
        return false;
      }
      this.sockets.set(extra.socket, connection);
      return true;
    } catch (err) {
      if (checksUnavailable(err)) return close(extra.socket, CLOSE_TRY_AGAIN_LATER, 'Try again later');
      if (!(err instanceof GraphQLError)) {
        log.error({ err }, 'could not check a connection');
        return close(extra.socket, CLOSE_INTERNAL_ERROR, 'Internal error');
      }
      return close(extra.socket, CLOSE_UNAUTHORIZED, 'Invalid access token');
    }
  }

  /** The caller authenticated, its current rights applied and its socket counted; null when refused (closed). */
  private async admit(socket: WebSocket, request: IncomingMessage, token: string): Promise<Connection | null> {
    const credential = token.slice(7);
    const address = this.options.addressOf(request);
    const authenticated = await authenticate(
      { authorization: token, 'user-agent': request.headers['user-agent'] },
      this.options.auth,
      address,
    );
    const ctx = await this.options.revalidate(authenticated, credential);
    if (!ctx) {
      close(socket, CLOSE_FORBIDDEN, 'No longer a member');
      return null;
    }
    // API-key connections are re-established at least hourly (access tokens expire sooner on their own).
    const expiresAt = authenticated.authMethod === 'api_key' ? Date.now() + 3_600_000 : claimsExpiry(credential);
    if (socket.readyState !== socket.OPEN) return null;
    const holder =
      authenticated.authMethod === 'api_key' ? `api_key:${credential.split('_').slice(0, 2).join('_')}` : ctx.userId;
    const admitted = this.options.limiter.admitSocket(holder, address);
    if ('refused' in admitted) {
      close(socket, CLOSE_TOO_MANY, admitted.refused);
      return null;
    }
    return {
      ctx: { ...ctx, connectionId: randomUUID() },
      authenticated,
      credential,
      expiresAt,
      address,
      holder,
      holdings: { count: 0, cost: 0 },
      held: new Map(),
      releaseSocket: admitted.release,
    };
  }

  /** A subscription completed (by the client or the server): its place in the limits is given back. */
  release(connection: Connection | undefined, payload: object): void {
    const release = connection?.held.get(payload);
    if (!release) return;
    connection!.held.delete(payload);
    release();
  }

  /** The socket closed: everything it held is given back. */
  closed(socket: WebSocket, connection: Connection | undefined): void {
    this.sockets.delete(socket);
    if (!connection) return;
    for (const release of connection.held.values()) release();
    connection.held.clear();
    connection.releaseSocket();
  }

  stats(): Record<string, number> {
    let subscriptions = 0;
    for (const c of this.sockets.values()) subscriptions += c.holdings.count;
    return { sockets: this.sockets.size, subscriptionsHeld: subscriptions };
  }

  close(): void {
    this.stopGuard();
  }
}
