import {
  ChangePasswordDocument,
  DisableTotpDocument,
  LoginDocument,
  LogoutEverywhereDocument,
  MeDocument,
  RegisterDocument,
} from './generated/graphql';
import { codes } from './support/gql';
import { totpCodeAt, uniqueEmail } from './support/fixtures';
import { startTestPlatform, type TestPlatform } from './support/platform';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform(undefined, { REGISTER_ATTEMPTS_PER_IP: '5' });
});
afterAll(async () => {
  await t?.stop();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe('brute-force protection', () => {
  it('refuses guesses packed with aliases, counts every other one, and throttles per account and address', async () => {
    const victim = await t.signUp('Victim');
    const attacker = from('203.0.113.7');
    // Packed: a sign-in field must be alone in its operation, so none of these guesses runs.
    const guesses = Array.from(
      { length: 15 },
      (_, i) => `g${i}: login(input: { email: "${victim.email}", password: "guess number ${i}" }) { accessToken }`,
    );
    const packed = await t.anonymous().raw({ query: `mutation { ${guesses.join(' ')} }` }, { headers: attacker });
    expect(packed.data ?? null).toBeNull();
    expect(codes(packed)).toEqual(['BAD_USER_INPUT']);
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await t
        .anonymous()
        .gql(LoginDocument, { input: { email: victim.email, password: `another guess ${i}` } }, { headers: attacker });
      outcomes.push(codes(res)[0]);
    }
    expect(outcomes.slice(0, 10)).toEqual(Array(10).fill('INVALID_CREDENTIALS'));
    expect(outcomes.slice(10)).toEqual(Array(2).fill('TOO_MANY_ATTEMPTS'));
    // Even the right password is refused from that address for now…
    const blocked = await t
      .anonymous()
      .gql(LoginDocument, { input: { email: victim.email, password: victim.password } }, { headers: attacker });
    expect(codes(blocked)).toEqual(['TOO_MANY_ATTEMPTS']);
    // …but the owner, elsewhere, is not locked out by someone else's guessing.
    const owner = await t
      .anonymous()
      .gql(
        LoginDocument,
        { input: { email: victim.email, password: victim.password } },
        { headers: from('198.51.100.20') },
      );
    expect(owner.errors).toBeUndefined();
    expect((await t.as(owner.data!.login.accessToken).gql(MeDocument, {})).data!.me.id).toBe(victim.userId);
  });

  it("counts every check of a signed-in account's password, packed or not, per session and account whatever the address: a stolen token is no password oracle", async () => {
    const victim = await t.signUp('Stolen token');
    const change = (currentPassword: string, ip: string) =>
      victim.gql(
        ChangePasswordDocument,
        { input: { currentPassword, newPassword: 'a brand new phrase' } },
        { headers: from(ip) },
      );
    // Packed: each field that runs is counted (the first failure aborts the rest of the mutation).
    const guesses = Array.from(
      { length: 15 },
      (_, i) =>
        `g${i}: changePassword(input: { currentPassword: "guess number ${i}", newPassword: "a brand new phrase" })`,
    );
    const packed = await victim.raw({ query: `mutation { ${guesses.join(' ')} }` }, { headers: from('203.0.113.50') });
    expect(codes(packed)).toEqual(['INVALID_CREDENTIALS']);
    // Then one guess at a time, each from another address.
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) outcomes.push(codes(await change(`another guess ${i}`, `203.0.113.${60 + i}`))[0]);
    expect(outcomes.slice(0, 9)).toEqual(Array(9).fill('INVALID_CREDENTIALS'));
    expect(outcomes.slice(9)).toEqual(Array(3).fill('TOO_MANY_ATTEMPTS'));
    // The right password tells nothing now either, from anywhere.
    expect(codes(await change(victim.password, '198.51.100.77'))).toEqual(['TOO_MANY_ATTEMPTS']);
    // Signing in is counted apart: the owner still signs in.
    expect(
      (
        await t
          .anonymous()
          .gql(
            LoginDocument,
            { input: { email: victim.email, password: victim.password } },
            { headers: from('198.51.100.78') },
          )
      ).errors,
    ).toBeUndefined();
  });

  it('counts the password and code checks of turning two-factor sign-in off the same way', async () => {
    const victim = await t.signUp('Stolen token 2fa');
    const { secret } = await victim.turnOnTotp();
    const disable = (password: string, ip: string) =>
      victim.gql(DisableTotpDocument, { input: { password, code: '000000' } }, { headers: from(ip) });
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) outcomes.push(codes(await disable(`guess ${i}`, `203.0.113.${120 + i}`))[0]);
    expect(outcomes.slice(0, 10)).toEqual(Array(10).fill('INVALID_CREDENTIALS'));
    expect(outcomes.slice(10)).toEqual(Array(2).fill('TOO_MANY_ATTEMPTS'));
    const right = await victim.gql(
      DisableTotpDocument,
      { input: { password: victim.password, code: totpCodeAt(secret, 1) } },
      { headers: from('198.51.100.79') },
    );
    expect(codes(right)).toEqual(['TOO_MANY_ATTEMPTS']);
  });

  it("keeps one session's spent password checks from locking the owner's other sessions out, up to a limit per account that signing out everywhere lifts", async () => {
    const victim = await t.signUp('Held session');
    let password = victim.password;
    let ip = 10;
    const next = () => `192.0.2.${ip++}`;
    const session = async () =>
      (await t.anonymous().gql(LoginDocument, { input: { email: victim.email, password } }, { headers: from(next()) }))
        .data!.login.accessToken;
    const change = (token: string, currentPassword: string, newPassword = 'a phrase nobody has') =>
      t
        .as(token)
        .gql(ChangePasswordDocument, { input: { currentPassword, newPassword } }, { headers: from(next()) })
        .then((r) => codes(r)[0] ?? 'CHANGED');
    // Whoever holds one session (here the one register opened) spends its checks…
    const held: string[] = [];
    for (let i = 0; i < 11; i++) held.push(await change(victim.token, `guess ${i}`));
    expect(held).toEqual([...Array(10).fill('INVALID_CREDENTIALS'), 'TOO_MANY_ATTEMPTS']);
    // …and the owner, in another session, still changes the password.
    expect(await change(await session(), password, 'the owner changed it')).toBe('CHANGED');
    password = 'the owner changed it';
    // More sessions reach the account's limit (three sessions' worth): then even a fresh session is refused…
    const spent: string[] = [];
    for (let s = 0; s < 2; s++) {
      const token = await session();
      for (let i = 0; i < 10; i++) spent.push(await change(token, `more guesses ${s}.${i}`));
    }
    expect(spent.filter((c) => c === 'INVALID_CREDENTIALS').length).toBeLessThan(20);
    expect(spent.at(-1)).toBe('TOO_MANY_ATTEMPTS');
    const fresh = await session();
    expect(await change(fresh, password)).toBe('TOO_MANY_ATTEMPTS');
    // …until the owner signs out everywhere (ending every session that spent them), which lifts it.
    expect((await t.as(fresh).gql(LogoutEverywhereDocument, {})).data).toEqual({
      logoutEverywhere: true,
    });
    expect(await change(await session(), password, 'changed once more')).toBe('CHANGED');
  });

  it('limits registrations per client address, whether or not the address given has an account', async () => {
    const existing = await t.signUp('Already here');
    const register = (email: string, ip: string) =>
      t
        .anonymous()
        .gql(
          RegisterDocument,
          { input: { email, password: 'flood pass phrase', tenantName: 'Flood' } },
          { headers: from(ip) },
        );
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await register(i % 2 ? existing.email : uniqueEmail('flood'), '203.0.113.200');
      outcomes.push(res.errors ? codes(res)[0] : 'REGISTERED');
    }
    expect(outcomes).toEqual([...Array(5).fill('REGISTERED'), 'TOO_MANY_ATTEMPTS', 'TOO_MANY_ATTEMPTS']);
    expect((await register(uniqueEmail('elsewhere'), '198.51.100.200')).errors).toBeUndefined();
  });

  it('counts IPv6 clients by their /64 network, whichever of its addresses they use', async () => {
    const register = (ip: string) =>
      t
        .anonymous()
        .gql(
          RegisterDocument,
          { input: { email: uniqueEmail('v6'), password: 'flood pass phrase', tenantName: 'V6' } },
          { headers: from(ip) },
        )
        .then((r) => codes(r)[0] ?? 'REGISTERED');
    const outcomes: string[] = [];
    for (let i = 1; i <= 7; i++) outcomes.push(await register(`2001:db8:77:1:${i.toString(16)}::${i}`));
    expect(outcomes).toEqual([...Array(5).fill('REGISTERED'), 'TOO_MANY_ATTEMPTS', 'TOO_MANY_ATTEMPTS']);
    expect(await register('2001:db8:77:2::1')).toBe('REGISTERED');
    // Sign-in guesses the same way: a new address in the same /64 is no fresh start.
    const victim = { email: uniqueEmail('v6-victim') };
    await t
      .anonymous()
      .gql(
        RegisterDocument,
        { input: { email: victim.email, password: 'victim pass phrase', tenantName: 'V6 victim' } },
        { headers: from('2001:db8:99::1') },
      );
    const guesses: string[] = [];
    for (let i = 1; i <= 11; i++) {
      const res = await t
        .anonymous()
        .gql(
          LoginDocument,
          { input: { email: victim.email, password: `v6 guess ${i}` } },
          { headers: from(`2001:db8:88:1::${i.toString(16)}`) },
        );
      guesses.push(codes(res)[0] ?? 'SIGNED_IN');
    }
    expect(guesses).toEqual([...Array(10).fill('INVALID_CREDENTIALS'), 'TOO_MANY_ATTEMPTS']);
  });
});
