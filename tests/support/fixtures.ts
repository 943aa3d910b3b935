import { randomBytes } from 'node:crypto';
import { AcceptInvitationDocument, CreateRoomDocument, InviteUserDocument, RegisterDocument, SendMessageDocument } from '../generated/graphql';
import type { Config } from '../../kernel/config';
import { SUBJECTS, tokenFrom, waitForMail } from './mailbox';
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

/** Someone joins `owner`'s tenant with `role` through a real invitation e-mail. */
export async function joinByInvitation(gatewayUrl: string, config: Config, owner: Account, role = 'member'): Promise<{ userId: string; token: string }> {
  const email = uniqueEmail('member');
  await gql(gatewayUrl, InviteUserDocument, { input: { email, role } }, { token: owner.token });
  const token = tokenFrom(await waitForMail(config, email, SUBJECTS.invitation));
  const joined = await gql(gatewayUrl, AcceptInvitationDocument, { input: { token, password: 'member pass phrase' } });
  return { userId: joined.data!.acceptInvitation.user.id, token: joined.data!.acceptInvitation.accessToken };
}
