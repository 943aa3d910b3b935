import { AcceptInvitationDocument, InviteUserDocument, UpdateSecurityPolicyDocument } from './generated/graphql';
import { SUBJECTS, tokenFrom, waitForMail } from './support/mailbox';
import { startTestPlatform, type TestPlatform } from './support/platform';
import { connect, type WsSession } from './support/ws';

let t: TestPlatform;
const sessions: WsSession[] = [];
beforeAll(async () => {
  t = await startTestPlatform();
});
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose().catch(() => undefined);
});
afterAll(async () => {
  await t?.stop();
});

/** Every subscription of messaging, each needing `messages:read`. */
const SUBSCRIPTIONS: [string, string][] = [
  ['roomEvents', `subscription($r: ID!) { roomEvents(roomId: $r) { kind } }`],
  ['typing', `subscription($r: ID!) { typing(roomId: $r) { typing } }`],
  ['messageAdded', `subscription($r: ID!) { messageAdded(roomId: $r) { id } }`],
  ['unreadCounts', `subscription { unreadCounts { roomId } }`],
  ['presence', `subscription { presence { userId } }`],
];

/** The error code each subscription is refused with, for a caller with `token`. */
async function refusals(token: string, roomId: string): Promise<Record<string, unknown>> {
  const ws = connect(t.gatewayUrl, { authorization: `Bearer ${token}` });
  sessions.push(ws);
  const codes: Record<string, unknown> = {};
  for (const [name, query] of SUBSCRIPTIONS) {
    const sub = ws.subscribe(query, query.includes('$r') ? { r: roomId } : {});
    const [first] = await sub.waitFor(1);
    codes[name] = first.errors?.map((e) => e.extensions?.code).join(',') ?? 'none';
    sub.unsubscribe();
  }
  return codes;
}

const every = (code: string) => Object.fromEntries(SUBSCRIPTIONS.map(([name]) => [name, code]));

// A restricted member's rights are cut down to their own account (or read-only): a subscription needing a right they
// lack is refused with the restriction's code, as queries and mutations are, both by `@Authorized` and by the
// subscribe function's own check (each alone must keep the code).
describe('subscriptions of a restricted member', () => {
  it('are refused with TWO_FACTOR_SETUP_REQUIRED while the tenant requires 2FA they have not set up', async () => {
    const owner = await t.signUp('Strict live');
    const member = await owner.invite();
    const { roomId } = await owner.createRoomWithMessage();
    await owner.turnOnTotp();
    const policy = await owner.gql(UpdateSecurityPolicyDocument, { input: { requireTwoFactor: true } });
    expect(policy.errors).toBeUndefined();
    expect(await refusals(member.token, roomId)).toEqual(every('TWO_FACTOR_SETUP_REQUIRED'));
  });

  it('are refused with EMAIL_VERIFICATION_REQUIRED while their address is unconfirmed and the tenant allows account access only', async () => {
    const owner = await t.signUp('Careful live');
    const { roomId } = await owner.createRoomWithMessage();
    // Someone with their own (unconfirmed) account joins the tenant by invitation.
    const own = await t.signUp('Elsewhere live');
    await owner.gql(InviteUserDocument, { input: { email: own.email, role: 'member' } });
    const invitation = tokenFrom(await waitForMail(t.config, own.email, SUBJECTS.invitation));
    const joined = await t.anonymous().gql(AcceptInvitationDocument, {
      input: { token: invitation, password: own.password },
    });
    const token = joined.data!.acceptInvitation.accessToken;
    await owner.confirmEmail();
    const policy = await owner.gql(UpdateSecurityPolicyDocument, { input: { unverifiedAccess: 'ACCOUNT_ONLY' } });
    expect(policy.errors).toBeUndefined();
    expect(await refusals(token, roomId)).toEqual(every('EMAIL_VERIFICATION_REQUIRED'));
  });
});
