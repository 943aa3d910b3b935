import {
  leafHash,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  canonicalJson,
  type Checkpoint,
} from '../tools/ledger-verify/verify';
import type { User } from './support/client';
import { appendTransfers, ledgerData } from './support/ledger';
import { startTestPlatform, type TestPlatform } from './support/platform';

/**
 * The log as a client sees it: every proof the gateway serves is checked with the independent verifier
 * (tools/ledger-verify, which shares no code with the ledger), for every tree size 1…300 and random sizes up to
 * 5,000; concurrent writers leave the log gapless; another tenant reaches none of it.
 */
let t: TestPlatform;
let owner: User;
let vkey: string;

beforeAll(async () => {
  // A checkpoint once 64 entries are uncovered: a long log is cut into many blocks.
  t = await startTestPlatform(undefined, {
    LEDGER_CHECKPOINT_ENTRIES: '64',
    LEDGER_CHECKPOINT_SECONDS: '1',
    JOB_POLL_MS: '100',
  });
  owner = await t.signUp('Ledger Log');
  vkey = (await (await fetch(`${t.gatewayUrl.replace(/\/graphql$/, '')}/.well-known/nexus-ledger-key`)).text()).trim();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const data = ledgerData;

async function logSize(user: User): Promise<number> {
  return (await data(user, `{ verifyLedger(fromIndex: 0, toIndex: 0) { treeSize } }`)).verifyLedger.treeSize;
}

type Entry = {
  index: number;
  type: string;
  payload: Record<string, unknown>;
  time: string;
  sourceEventId: string | null;
  data: string;
  leafHash: string;
};

/** All entries' data, checked to be canonical and gapless from 0, with the leaf hash the verifier computes. */
async function leaves(user: User, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let after: string | null = null;
  while (out.length < size) {
    type Page = { ledgerEntries: { nodes: Entry[]; pageInfo: { endCursor: string | null } } };
    const page: Page = await data<Page>(
      user,
      `query($after: String) { ledgerEntries(first: 500, after: $after) { nodes { index type payload time sourceEventId data leafHash } pageInfo { endCursor } } }`,
      { after },
    );
    for (const e of page.ledgerEntries.nodes) {
      expect(e.index).toBe(out.length);
      expect(
        canonicalJson({
          index: e.index,
          payload: e.payload,
          sourceEventId: e.sourceEventId,
          time: e.time,
          type: e.type,
        }),
      ).toBe(e.data);
      const leaf = leafHash(e.data);
      expect(leaf.toString('base64')).toBe(e.leafHash);
      out.push(leaf);
    }
    after = page.ledgerEntries.pageInfo.endCursor;
  }
  return out.slice(0, size);
}

function checkpointOf(note: string): Checkpoint {
  const checked = verifyCheckpoint(note, vkey);
  if (!checked.ok) throw new Error(`checkpoint does not verify: ${checked.problem}`);
  return checked.checkpoint;
}

const b64 = (hashes: string[]) => hashes.map((h) => Buffer.from(h, 'base64'));

/** For each size: a signed head, inclusion of its last leaf and of one more, and consistency with `toSize`. */
async function checkSizes(user: User, sizes: number[], all: Buffer[], toSize: number) {
  const top = checkpointOf(
    (await data(user, `query($n: Int) { ledgerCheckpoint(treeSize: $n) { note } }`, { n: toSize })).ledgerCheckpoint
      .note,
  );
  for (let i = 0; i < sizes.length; i += 5) {
    const batch = sizes.slice(i, i + 5);
    const probe = batch.map((s) => [s, Math.floor(Math.random() * s)] as const);
    const query = `{ ${probe
      .map(
        ([s, m]) => `c${s}: ledgerCheckpoint(treeSize: ${s}) { note }
        a${s}: ledgerEntry(index: ${s - 1}) { inclusionProof(treeSize: ${s}) { leafIndex treeSize hashes } }
        b${s}: ledgerEntry(index: ${m}) { inclusionProof(treeSize: ${s}) { hashes } }
        p${s}: ledgerConsistencyProof(fromSize: ${s}, toSize: ${toSize}) { hashes }`,
      )
      .join('\n')} }`;
    const res = await data(user, query);
    for (const [s, m] of probe) {
      const head = checkpointOf(res[`c${s}`].note);
      expect(head.treeSize).toBe(s);
      expect(verifyInclusion(all[s - 1], s - 1, s, b64(res[`a${s}`].inclusionProof.hashes), head.root)).toBe(true);
      expect(verifyInclusion(all[m], m, s, b64(res[`b${s}`].inclusionProof.hashes), head.root)).toBe(true);
      // A proof for another leaf or another size does not pass.
      if (s > 1)
        expect(verifyInclusion(all[(m + 1) % s], m, s, b64(res[`b${s}`].inclusionProof.hashes), head.root)).toBe(false);
      expect(verifyConsistency(s, toSize, b64(res[`p${s}`].hashes), head.root, top.root)).toBe(true);
    }
  }
}

describe('proofs, checked by the independent verifier', () => {
  it('publishes one key at the well-known URL and in the API', async () => {
    const key = await data(owner, `{ ledgerPublicKey { verifierKey keyName keyId algorithm publicKey } }`);
    expect(key.ledgerPublicKey.verifierKey).toBe(vkey);
    expect(key.ledgerPublicKey.algorithm).toBe('Ed25519');
    expect(vkey.startsWith(`${key.ledgerPublicKey.keyName}+${key.ledgerPublicKey.keyId}+`)).toBe(true);
  });

  it('proves inclusion and consistency for every tree size 1…300 and random sizes up to 5,000', async () => {
    const accounts = await appendTransfers(owner, 300);
    let size = await logSize(owner);
    expect(size).toBeGreaterThanOrEqual(302);
    let all = await leaves(owner, size);
    await checkSizes(
      owner,
      Array.from({ length: 300 }, (_, i) => i + 1),
      all,
      size,
    );
    await appendTransfers(owner, 5000 - size, accounts);
    size = await logSize(owner);
    expect(size).toBeGreaterThanOrEqual(5000);
    all = await leaves(owner, size);
    const random = Array.from({ length: 40 }, () => 1 + Math.floor(Math.random() * size));
    await checkSizes(owner, [...random, 511, 512, 513, 1023, 1024, 4095, 4096, size], all, size);
  }, 300_000);

  it('cuts the log into blocks closed by stored, signed, witnessed checkpoints', async () => {
    const size = await logSize(owner);
    // The last checkpoint comes LEDGER_CHECKPOINT_SECONDS after the last entry.
    for (let i = 0; i < 100; i++) {
      const latest = await data(owner, `{ ledgerCheckpoint { treeSize } }`);
      if (latest.ledgerCheckpoint?.treeSize === size) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await data(
      owner,
      `{ ledgerBlocks(first: 500) { number fromIndex toIndex checkpoint { treeSize note } } }`,
    );
    const blocks = res.ledgerBlocks;
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks[blocks.length - 1].toIndex).toBe(size);
    blocks.forEach(
      (
        b: { number: number; fromIndex: number; toIndex: number; checkpoint: { treeSize: number; note: string } },
        i: number,
      ) => {
        expect(b.number).toBe(i);
        expect(b.fromIndex).toBe(i === 0 ? 0 : blocks[i - 1].toIndex);
        expect(b.checkpoint.treeSize).toBe(b.toIndex);
        expect(checkpointOf(b.checkpoint.note).treeSize).toBe(b.toIndex);
      },
    );
    const verified = await data(owner, `{ verifyLedger { ok treeSize firstBadIndex problem } }`);
    expect(verified.verifyLedger).toMatchObject({ ok: true, firstBadIndex: null });
  });

  it('refuses proofs outside the log with a code', async () => {
    const size = await logSize(owner);
    const res = await owner.raw({ query: `{ ledgerConsistencyProof(fromSize: 2, toSize: ${size + 1}) { hashes } }` });
    expect(res.errors?.[0].extensions?.code).toBe('INVALID_PROOF_REQUEST');
  });
});

describe('writers at once', () => {
  it('keeps the log gapless and valid under 8 concurrent writers', async () => {
    const writer = await t.signUp('Busy Books');
    const accounts = await appendTransfers(writer, 1);
    const before = await logSize(writer);
    await Promise.all(Array.from({ length: 8 }, () => appendTransfers(writer, 40, accounts)));
    const size = await logSize(writer);
    expect(size).toBeGreaterThanOrEqual(before + 320);
    await leaves(writer, size); // gapless from 0, canonical
    const verified = await data(writer, `{ verifyLedger { ok firstBadIndex problem } }`);
    expect(verified.verifyLedger).toEqual({ ok: true, firstBadIndex: null, problem: null });
  }, 120_000);
});

describe('tenant isolation', () => {
  it("never shows another tenant's entries, proofs or checkpoints, nor the platform log to a tenant", async () => {
    const stranger = await t.signUp('Strangers');
    const mine = await data(owner, `{ ledgerEntries(first: 500) { nodes { data } } }`);
    const theirs = await data(stranger, `{ ledgerEntries(first: 500) { nodes { data } } verifyLedger { treeSize } }`);
    const myIds = new Set(mine.ledgerEntries.nodes.map((e: { data: string }) => e.data));
    expect(theirs.ledgerEntries.nodes.some((e: { data: string }) => myIds.has(e.data))).toBe(false);
    const strangerSize = theirs.verifyLedger.treeSize;
    const beyond = await stranger.raw({ query: `{ ledgerEntry(index: ${strangerSize + 5}) { data } }` });
    expect(beyond.data).toEqual({ ledgerEntry: null });
    const proof = await stranger.raw({ query: `{ ledgerConsistencyProof(fromSize: 1, toSize: 4000) { hashes } }` });
    expect(proof.errors?.[0].extensions?.code).toBe('INVALID_PROOF_REQUEST');
    const checkpoint = await data(stranger, `{ ledgerCheckpoint { origin } }`);
    if (checkpoint.ledgerCheckpoint) expect(checkpoint.ledgerCheckpoint.origin).not.toContain(owner.tenantId);
    const platform = await stranger.raw({ query: `{ ledgerEntries(log: PLATFORM) { nodes { data } } }` });
    expect(platform.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});
