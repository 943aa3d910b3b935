import { randomBytes } from 'node:crypto';
import { RegisterDocument, CreateRoomDocument, SendMessageDocument } from '../generated/graphql';
import { gql } from './gql';

export interface Account {
  token: string;
  userId: string;
  tenantId: string;
  email: string;
  password: string;
}

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@example.test`;
}

/** tenant → user → token, through the public register mutation. */
export async function signUp(gatewayUrl: string, tenantName = 'Acme', email = uniqueEmail()): Promise<Account> {
  const password = 'correct horse battery';
  const res = await gql(gatewayUrl, RegisterDocument, { input: { email, password, tenantName } });
  if (!res.data?.register) throw new Error(`register failed (HTTP ${res.status}): ${JSON.stringify(res)}`);
  const r = res.data.register;
  return { token: r.accessToken, userId: r.user.id, tenantId: r.tenant.id, email, password };
}

export async function createRoomWithMessage(gatewayUrl: string, account: Account, body = 'hello') {
  const room = await gql(gatewayUrl, CreateRoomDocument, { input: { name: 'general' } }, { token: account.token });
  const roomId = room.data!.createRoom.id;
  const sent = await gql(gatewayUrl, SendMessageDocument, { input: { roomId, body } }, { token: account.token });
  return { roomId, messageId: sent.data!.sendMessage.id };
}
