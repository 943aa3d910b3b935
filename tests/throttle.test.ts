import { LoginDocument, MeDocument } from './generated/graphql';
import { codes, gql, rawGql } from './support/gql';
import { signUp } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(async () => {
  await t?.stop();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe('brute-force protection', () => {
  it('counts every guess, packed with aliases or not, and throttles per account and address', async () => {
    const victim = await signUp(t.gatewayUrl, 'Victim');
    const attacker = from('203.0.113.7');
    // Packed: the first failure aborts the rest of the mutation (non-null, executed in order).
    const guesses = Array.from({ length: 15 }, (_, i) => `g${i}: login(input: { email: "${victim.email}", password: "guess number ${i}" }) { accessToken }`);
    const packed = await rawGql(t.gatewayUrl, { query: `mutation { ${guesses.join(' ')} }` }, { headers: attacker });
    expect(packed.data).toBeNull();
    expect(codes(packed)).toEqual(['INVALID_CREDENTIALS']);
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await gql(t.gatewayUrl, LoginDocument, { input: { email: victim.email, password: `another guess ${i}` } }, { headers: attacker });
      outcomes.push(codes(res)[0]);
    }
    expect(outcomes.slice(0, 9)).toEqual(Array(9).fill('INVALID_CREDENTIALS'));
    expect(outcomes.slice(9)).toEqual(Array(3).fill('TOO_MANY_ATTEMPTS'));
    // Even the right password is refused from that address for now…
    const blocked = await gql(t.gatewayUrl, LoginDocument, { input: { email: victim.email, password: victim.password } }, { headers: attacker });
    expect(codes(blocked)).toEqual(['TOO_MANY_ATTEMPTS']);
    // …but the owner, elsewhere, is not locked out by someone else's guessing.
    const owner = await gql(t.gatewayUrl, LoginDocument, { input: { email: victim.email, password: victim.password } }, { headers: from('198.51.100.20') });
    expect(owner.errors).toBeUndefined();
    expect((await gql(t.gatewayUrl, MeDocument, {}, { token: owner.data!.login.accessToken })).data!.me.id).toBe(victim.userId);
  });
});
