import { authenticator } from 'otplib';
import {
  AcceptInvitationDocument,
  AddGroupMemberDocument,
  AssignGroupRoleDocument,
  AssignRoleDocument,
  ConfirmTotpDocument,
  CreateApiKeyDocument,
  CreateGroupDocument,
  CreateRoleDocument,
  EnrollTotpDocument,
  InviteUserDocument,
  RemoveUserDocument,
  RevokeApiKeyDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { uniqueEmail } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import type { User } from './support/client';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep } from './support/ws';

let t: TestPlatform;
let owner: User;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await t.signUp('Changes');
});
afterAll(async () => {
  await t?.stop();
});

const member = (role = 'member') => owner.invite(role);

async function roleWith(permissions: string[], name = `r-${Math.random().toString(36).slice(2, 8)}`) {
  return (await owner.gql(CreateRoleDocument, { input: { name, permissions } })).data!.createRole.id;
}

const SUB = 'subscription($r: ID!) { messageAdded(roomId: $r) { id } }';
const ROOM = '00000000-0000-4000-8000-000000000000';

describe('live connections follow access changes', () => {
  it('closes a WebSocket authenticated with an API key when the key is revoked', async () => {
    const created = await owner.gql(CreateApiKeyDocument, { input: { name: 'ws', permissions: ['messages:read'] } });
    const { secret, apiKey } = created.data!.createApiKey;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${secret}` });
    socket.subscribe(SUB, { r: ROOM });
    await sleep(300);
    await owner.gql(RevokeApiKeyDocument, { id: apiKey.id });
    expect((await socket.closed).code).toBe(4401);
    await socket.dispose();
  });

  it('closes the WebSocket of someone whose rights changed, so they reconnect with the new ones', async () => {
    const a = await member('admin');
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${a.token}` });
    socket.subscribe(SUB, { r: ROOM });
    await sleep(300);
    await owner.gql(AssignRoleDocument, { input: { userId: a.userId, roleId: 'member' } });
    const closed = await socket.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/Permissions changed/);
    await socket.dispose();
  });
});

describe('no escalation through roles, groups, invitations or removal', () => {
  it('refuses a role manager making themselves admin or joining a more powerful group', async () => {
    const m = await member();
    await owner.gql(AssignRoleDocument, {
      input: { userId: m.userId, roleId: await roleWith(['roles:manage', 'users:read']) },
    });
    const self = await m.gql(AssignRoleDocument, { input: { userId: m.userId, roleId: 'admin' } });
    expect(codes(self)).toEqual(['PERMISSION_ESCALATION']);
    const group = (await owner.gql(CreateGroupDocument, { input: { name: 'Treasury' } })).data!.createGroup.id;
    await owner.gql(AssignGroupRoleDocument, { input: { groupId: group, roleId: await roleWith(['ledger:write']) } });
    const join = await m.gql(AddGroupMemberDocument, { input: { groupId: group, userId: m.userId } });
    expect(codes(join)).toEqual(['PERMISSION_ESCALATION']);
  });

  it('refuses someone who manages users inviting an admin or removing one', async () => {
    const hr = await member();
    await owner.gql(AssignRoleDocument, {
      input: { userId: hr.userId, roleId: await roleWith(['users:manage', 'users:read']) },
    });
    const invite = await hr.gql(InviteUserDocument, { input: { email: uniqueEmail(), role: 'admin' } });
    expect(codes(invite)).toEqual(['PERMISSION_ESCALATION']);
    const a = await member('admin');
    expect(codes(await hr.gql(RemoveUserDocument, { userId: a.userId }))).toEqual(['PERMISSION_ESCALATION']);
  });

  it('asks an account with two-factor sign-in for a code after it accepts an invitation', async () => {
    const other = await t.signUp('With 2FA');
    const { secret } = (await other.gql(EnrollTotpDocument, {})).data!.enrollTotp;
    await other.gql(ConfirmTotpDocument, { code: authenticator.generate(secret) });
    await owner.gql(InviteUserDocument, { input: { email: other.email, role: 'member' } });
    const token = tokenFrom(await waitForMail(t.config, other.email, SUBJECTS.invitation));
    const res = await t.anonymous().gql(AcceptInvitationDocument, { input: { token, password: other.password } });
    expect(codes(res)).toEqual(['TWO_FACTOR_REQUIRED']);
  });
});
