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
import { codes, gql } from './support/gql';
import { joinByInvitation, signUp, uniqueEmail, type Account } from './support/fixtures';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, sleep } from './support/ws';

let t: TestPlatform;
let owner: Account;
beforeAll(async () => {
  t = await startTestPlatform();
  owner = await signUp(t.gatewayUrl, 'Changes');
});
afterAll(async () => {
  await t?.stop();
});

const member = (role = 'member') => joinByInvitation(t.gatewayUrl, t.config, owner, role);

async function roleWith(permissions: string[], name = `r-${Math.random().toString(36).slice(2, 8)}`) {
  return (await gql(t.gatewayUrl, CreateRoleDocument, { input: { name, permissions } }, { token: owner.token })).data!
    .createRole.id;
}

const SUB = 'subscription($r: ID!) { messageAdded(roomId: $r) { id } }';
const ROOM = '00000000-0000-4000-8000-000000000000';

describe('live connections follow access changes', () => {
  it('closes a WebSocket authenticated with an API key when the key is revoked', async () => {
    const created = await gql(
      t.gatewayUrl,
      CreateApiKeyDocument,
      { input: { name: 'ws', permissions: ['messages:read'] } },
      { token: owner.token },
    );
    const { secret, apiKey } = created.data!.createApiKey;
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${secret}` });
    socket.subscribe(SUB, { r: ROOM });
    await sleep(300);
    await gql(t.gatewayUrl, RevokeApiKeyDocument, { id: apiKey.id }, { token: owner.token });
    expect((await socket.closed).code).toBe(4401);
    await socket.dispose();
  });

  it('closes the WebSocket of someone whose rights changed, so they reconnect with the new ones', async () => {
    const a = await member('admin');
    const socket = connect(t.gatewayUrl, { authorization: `Bearer ${a.token}` });
    socket.subscribe(SUB, { r: ROOM });
    await sleep(300);
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: a.userId, roleId: 'member' } },
      { token: owner.token },
    );
    const closed = await socket.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/Permissions changed/);
    await socket.dispose();
  });
});

describe('no escalation through roles, groups, invitations or removal', () => {
  it('refuses a role manager making themselves admin or joining a more powerful group', async () => {
    const m = await member();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: await roleWith(['roles:manage', 'users:read']) } },
      { token: owner.token },
    );
    const self = await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: m.userId, roleId: 'admin' } },
      { token: m.token },
    );
    expect(codes(self)).toEqual(['PERMISSION_ESCALATION']);
    const group = (
      await gql(t.gatewayUrl, CreateGroupDocument, { input: { name: 'Treasury' } }, { token: owner.token })
    ).data!.createGroup.id;
    await gql(
      t.gatewayUrl,
      AssignGroupRoleDocument,
      { input: { groupId: group, roleId: await roleWith(['ledger:write']) } },
      { token: owner.token },
    );
    const join = await gql(
      t.gatewayUrl,
      AddGroupMemberDocument,
      { input: { groupId: group, userId: m.userId } },
      { token: m.token },
    );
    expect(codes(join)).toEqual(['PERMISSION_ESCALATION']);
  });

  it('refuses someone who manages users inviting an admin or removing one', async () => {
    const hr = await member();
    await gql(
      t.gatewayUrl,
      AssignRoleDocument,
      { input: { userId: hr.userId, roleId: await roleWith(['users:manage', 'users:read']) } },
      { token: owner.token },
    );
    const invite = await gql(
      t.gatewayUrl,
      InviteUserDocument,
      { input: { email: uniqueEmail(), role: 'admin' } },
      { token: hr.token },
    );
    expect(codes(invite)).toEqual(['PERMISSION_ESCALATION']);
    const a = await member('admin');
    expect(codes(await gql(t.gatewayUrl, RemoveUserDocument, { userId: a.userId }, { token: hr.token }))).toEqual([
      'PERMISSION_ESCALATION',
    ]);
  });

  it('asks an account with two-factor sign-in for a code after it accepts an invitation', async () => {
    const other = await signUp(t.gatewayUrl, 'With 2FA');
    const { secret } = (await gql(t.gatewayUrl, EnrollTotpDocument, {}, { token: other.token })).data!.enrollTotp;
    await gql(t.gatewayUrl, ConfirmTotpDocument, { code: authenticator.generate(secret) }, { token: other.token });
    await gql(
      t.gatewayUrl,
      InviteUserDocument,
      { input: { email: other.email, role: 'member' } },
      { token: owner.token },
    );
    const token = tokenFrom(await waitForMail(t.config, other.email, SUBJECTS.invitation));
    const res = await gql(t.gatewayUrl, AcceptInvitationDocument, { input: { token, password: other.password } });
    expect(codes(res)).toEqual(['TWO_FACTOR_REQUIRED']);
  });
});
