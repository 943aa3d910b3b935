import { randomBytes } from 'node:crypto';
import { authenticator } from 'otplib';
import {
  AcceptInvitationDocument,
  ConfirmTotpDocument,
  EnrollTotpDocument,
  InviteUserDocument,
  RegisterDocument,
  VerifyEmailDocument,
} from '../generated/graphql';
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

/** tenant → user → token, through the public register mutation (tests call it as `t.signUp()`, tests/support/client.ts). */
export async function signUp(gatewayUrl: string, tenantName = 'Acme', email = uniqueEmail()): Promise<Account> {
  const password = 'correct horse battery';
  const res = await gql(gatewayUrl, RegisterDocument, { input: { email, password, tenantName } });
  if (!res.data?.register) throw new Error(`register failed (HTTP ${res.status}): ${JSON.stringify(res)}`);
  const r = res.data.register;
  return { token: r.accessToken, userId: r.user.id, tenantId: r.tenant.id, email, password };
}

/** Someone joins `owner`'s tenant with `role` through a real invitation e-mail. */
export async function joinByInvitation(
  gatewayUrl: string,
  config: Config,
  owner: Account,
  role = 'member',
): Promise<{ userId: string; token: string; email: string; password: string }> {
  const email = uniqueEmail('member');
  const password = 'member pass phrase';
  await gql(gatewayUrl, InviteUserDocument, { input: { email, role } }, { token: owner.token });
  const token = tokenFrom(await waitForMail(config, email, SUBJECTS.invitation));
  const joined = await gql(gatewayUrl, AcceptInvitationDocument, { input: { token, password } });
  return {
    userId: joined.data!.acceptInvitation.user.id,
    token: joined.data!.acceptInvitation.accessToken,
    email,
    password,
  };
}

/** What an authenticator app shows `steps` periods from now. */
export const totpCodeAt = (secret: string, steps = 0) =>
  authenticator.clone({ epoch: Date.now() + steps * 30_000 }).generate(secret);

/** Turns on two-factor sign-in for the account behind `token`, as an authenticator app user would. */
export async function turnOnTotp(
  gatewayUrl: string,
  token: string,
): Promise<{ secret: string; backupCodes: string[] }> {
  const enrollment = await gql(gatewayUrl, EnrollTotpDocument, {}, { token });
  const { secret } = enrollment.data!.enrollTotp;
  const confirmed = await gql(gatewayUrl, ConfirmTotpDocument, { code: totpCodeAt(secret) }, { token });
  if (!confirmed.data) throw new Error(`confirmTotp failed: ${JSON.stringify(confirmed.errors)}`);
  return { secret, backupCodes: confirmed.data.confirmTotp.backupCodes };
}

/** Follows the confirmation link mailed at registration. */
export async function confirmEmail(gatewayUrl: string, config: Config, email: string): Promise<void> {
  const token = tokenFrom(await waitForMail(config, email, SUBJECTS.verification));
  const res = await gql(gatewayUrl, VerifyEmailDocument, { token });
  if (!res.data?.verifyEmail) throw new Error(`verifyEmail failed: ${JSON.stringify(res.errors)}`);
}
