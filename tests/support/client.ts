import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Config } from '../../kernel/config';
import { CreateRoomDocument, LoginDocument, SendMessageDocument, type LoginMutation } from '../generated/graphql';
import { confirmEmail, joinByInvitation, signUp, turnOnTotp, uniqueEmail, type Account } from './fixtures';
import { gql, rawGql, rawGqlResponse, type GqlOptions, type GqlResult } from './gql';

type Headers = Record<string, string>;

/**
 * One caller of one endpoint: the URL (the test platform's gateway unless told otherwise) and the bearer token if any.
 * `gql` sends a typed operation the way a client does; `raw` and `response` send any body (a malformed one, a batch,
 * persisted queries…), `response` with the answer's headers; `options.headers` adds headers to one request
 * (X-Forwarded-For, x-tenant-id…).
 */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  gql<T, V>(document: TypedDocumentNode<T, V>, variables?: V, options: { headers?: Headers } = {}) {
    return gql(this.url, document, variables, this.options(options.headers));
  }

  raw<T = Record<string, unknown>>(body: unknown, options: { headers?: Headers } = {}): Promise<GqlResult<T>> {
    return rawGql<T>(this.url, body, this.options(options.headers));
  }

  response<T = Record<string, unknown>>(body: unknown, options: { headers?: Headers } = {}) {
    return rawGqlResponse<T>(this.url, body, this.options(options.headers));
  }

  /** Creates a room (named 'general' unless told) and answers its id. */
  async createRoom(name = 'general'): Promise<string> {
    const res = await this.gql(CreateRoomDocument, { input: { name } });
    if (!res.data?.createRoom) throw new Error(`createRoom failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
    return res.data.createRoom.id;
  }

  /** A new room with one message in it. */
  async createRoomWithMessage(body = 'hello'): Promise<{ roomId: string; messageId: string }> {
    const roomId = await this.createRoom();
    return { roomId, messageId: await this.postMessage(roomId, body) };
  }

  /** Sends a message (SendMessageDocument) and answers the result as it is, refusals included. */
  sendMessage(roomId: string, body = 'hi', more: { clientMessageId?: string; replyToId?: string } = {}) {
    return this.gql(SendMessageDocument, { input: { roomId, body, ...more } });
  }

  /** Sends a message that must be accepted, and answers its id. */
  async postMessage(roomId: string, body: string): Promise<string> {
    const res = await this.sendMessage(roomId, body);
    if (res.errors || !res.data?.sendMessage)
      throw new Error(`sendMessage failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
    return res.data.sendMessage.id;
  }

  /** The same caller at another endpoint (a further gateway, a subgraph). */
  via(url: string): ApiClient {
    return new ApiClient(url, this.token);
  }

  private options(headers?: Headers): GqlOptions {
    return { token: this.token, headers };
  }
}

/** A caller with a bearer token (an access token, an API key…). */
export type SignedIn = ApiClient & { readonly token: string };

/** A person with an account, signed in: a client bound to their access token, with the steps tests repeat. */
export class User extends ApiClient implements Account {
  declare readonly token: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly email: string;
  readonly password: string;

  constructor(
    url: string,
    private readonly config: Config | undefined,
    account: Account,
  ) {
    super(url, account.token);
    this.userId = account.userId;
    this.tenantId = account.tenantId;
    this.email = account.email;
    this.password = account.password;
  }

  /** Someone new joins this user's tenant with `role`, through a real invitation e-mail, and is signed in. */
  async invite(role = 'member'): Promise<User> {
    const joined = await joinByInvitation(this.url, this.mailbox(), this, role);
    return new User(this.url, this.config, { ...joined, tenantId: this.tenantId });
  }

  /** Where the platform's mail is read: its config (callers made from a bare URL have none). */
  private mailbox(): Config {
    if (!this.config) throw new Error(`no mailbox for ${this.url}: make these callers with the platform's config`);
    return this.config;
  }

  /** Turns on two-factor sign-in, as an authenticator app user would. */
  turnOnTotp(): Promise<{ secret: string; backupCodes: string[] }> {
    return turnOnTotp(this.url, this.token);
  }

  /** Follows the confirmation link mailed at registration. */
  confirmEmail(): Promise<void> {
    return confirmEmail(this.url, this.mailbox(), this.email);
  }
}

/** Makes callers of one gateway: signed-up users, a bearer token, nobody. */
export interface Callers {
  anonymous(): ApiClient;
  as(token: string): SignedIn;
  /** tenant → user → token, through the public register mutation. */
  signUp(tenantName?: string, email?: string): Promise<User>;
  /** The person behind an account whose token came another way (login, switchTenant, a single sign-on…). */
  user(account: Account): User;
  /** A further session of the account (login with its password) from a device that calls itself `userAgent`. */
  login(account: Account, userAgent?: string): Promise<LoginMutation['login']>;
  /** Callers of another gateway in front of the same platform. */
  at(url: string): Callers;
}

/** Callers of the gateway at `url`; `config` (the platform's) lets them read its mailbox: invitations, confirmations. */
export function callersAt(url: string, config?: Config): Callers {
  return {
    anonymous: () => new ApiClient(url),
    as: (token) => new ApiClient(url, token) as SignedIn,
    signUp: async (tenantName = 'Acme', email = uniqueEmail()) =>
      new User(url, config, await signUp(url, tenantName, email)),
    user: (account) => new User(url, config, account),
    login: async (account, userAgent = 'jest') => {
      const res = await new ApiClient(url).gql(
        LoginDocument,
        { input: { email: account.email, password: account.password } },
        { headers: { 'user-agent': userAgent } },
      );
      if (!res.data) throw new Error(`login failed (HTTP ${res.status}): ${JSON.stringify(res.errors)}`);
      return res.data.login;
    },
    at: (other) => callersAt(other, config),
  };
}
