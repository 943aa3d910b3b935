import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, run } from './cli';
import { ReferenceTree } from './testing/reference-tree';
import { TransportError, UsageError, verifyLedgerOnce, type LedgerState, type VerifyLedgerOptions } from './verify';

/**
 * A stand-in for the gateway's ledger API, built from the spec's formats with the test's own reference tree and
 * signer, so the verifier's whole run can be exercised (and tampered with) without a server.
 */
const TENANT = '2b1f0d2e-8e55-4a7c-9d3e-7f1f3c1a0b11';
const TOKEN = 'secret-token';
const URL_BASE = 'http://gateway.test';

interface FakeEntry {
  index: number;
  type: string;
  payload: Record<string, unknown>;
  time: string;
  sourceEventId: string | null;
  data: string;
}

function newSigner(name: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const id = createHash('sha256')
    .update(Buffer.concat([Buffer.from(name), Buffer.of(0x0a, 0x01), pub]))
    .digest()
    .subarray(0, 4);
  const vkey = `${name}+${id.toString('hex')}+${Buffer.concat([Buffer.of(1), pub]).toString('base64')}`;
  const signNote = (body: string): string =>
    `${body}\n\u2014 ${name} ${Buffer.concat([id, sign(null, Buffer.from(body), privateKey)]).toString('base64')}\n`;
  return { name, id, pub, vkey, signNote };
}

class FakeGateway {
  signer = newSigner('nexus.local/ledger');
  origin = `nexus.local/ledger/${TENANT}`;
  entries: FakeEntry[] = [];
  checkpoints: { origin: string; treeSize: number; rootHash: string; note: string }[] = [];
  publishedKey: string | null = null;
  apiKey: Partial<Record<string, string>> = {};
  alter: {
    checkpoint?: (cp: Record<string, unknown>) => void;
    entry?: (e: Record<string, unknown>) => void;
  } = {};
  requests: string[] = [];

  append(n: number): void {
    for (let k = 0; k < n; k++) {
      const index = this.entries.length;
      const payload = { account: `acc-${index}`, amount: String(1000 + index) };
      const time = new Date(Date.UTC(2025, 0, 1, 0, 0, index, 5)).toISOString();
      const sourceEventId = index % 2 ? null : `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
      // Written out by hand in RFC 8785 order (ASCII keys already sorted, no escapes needed).
      const data =
        `{"index":${index},"payload":{"account":"acc-${index}","amount":"${1000 + index}"},` +
        `"sourceEventId":${sourceEventId === null ? 'null' : `"${sourceEventId}"`},"time":"${time}","type":"test.entry"}`;
      this.entries.push({ index, type: 'test.entry', payload, time, sourceEventId, data });
    }
  }

  tree(size = this.entries.length): ReferenceTree {
    return new ReferenceTree(this.entries.slice(0, size).map((e) => Buffer.from(e.data, 'utf8')));
  }

  head(size: number) {
    const rootHash = this.tree(size).root().toString('base64');
    const note = this.signer.signNote(`${this.origin}\n${size}\n${rootHash}\n`);
    return { origin: this.origin, treeSize: size, rootHash, note };
  }

  checkpoint(): void {
    this.checkpoints.push(this.head(this.entries.length));
  }

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    this.requests.push(url);
    if (url === `${URL_BASE}/.well-known/nexus-ledger-key`) {
      return new Response(`${this.publishedKey ?? this.signer.vkey}\n`, { headers: { 'content-type': 'text/plain' } });
    }
    if (url !== `${URL_BASE}/graphql` || init?.method !== 'POST') return new Response('not found', { status: 404 });
    if ((init.headers as Record<string, string>).authorization !== `Bearer ${TOKEN}`) {
      return Response.json({ errors: [{ message: 'Not authenticated' }] }, { status: 401 });
    }
    const { query, variables } = JSON.parse(String(init.body)) as { query: string; variables: Record<string, never> };
    const op = /query (\w+)/.exec(query)![1];
    const data = this.answer(op, variables);
    return 'error' in data ? Response.json({ errors: [{ message: data.error }] }) : Response.json({ data });
  }) as typeof fetch;

  private answer(op: string, v: Record<string, number | undefined>): Record<string, unknown> {
    switch (op) {
      case 'LedgerVerifyKey':
        return {
          ledgerPublicKey: {
            keyName: this.signer.name,
            keyId: this.signer.id.toString('hex'),
            publicKey: this.signer.pub.toString('base64'),
            verifierKey: this.signer.vkey,
            algorithm: 'Ed25519',
            ...this.apiKey,
          },
        };
      case 'LedgerVerifyCheckpoint': {
        if (v.treeSize !== undefined && v.treeSize !== null && v.treeSize > this.entries.length) {
          return { error: 'treeSize is beyond the log' };
        }
        const cp = v.treeSize != null ? this.head(v.treeSize) : (this.checkpoints.at(-1) ?? null);
        if (cp) {
          const copy: Record<string, unknown> = { ...cp };
          this.alter.checkpoint?.(copy);
          return { ledgerCheckpoint: copy };
        }
        return { ledgerCheckpoint: null };
      }
      case 'LedgerVerifyConsistency':
        return {
          ledgerConsistencyProof: {
            fromSize: v.fromSize,
            toSize: v.toSize,
            hashes: this.tree(v.toSize)
              .consistency(v.fromSize!, v.toSize!)
              .map((h) => h.toString('base64')),
          },
        };
      case 'LedgerVerifyEntry': {
        const e = this.entries[v.index!];
        if (!e) return { ledgerEntry: null };
        const tree = this.tree(v.treeSize);
        const copy: Record<string, unknown> = {
          ...e,
          leafHash: tree.mth(e.index, e.index + 1).toString('base64'),
          inclusionProof: {
            leafIndex: e.index,
            treeSize: v.treeSize,
            hashes: tree.path(e.index, 0, v.treeSize!).map((h) => h.toString('base64')),
          },
        };
        this.alter.entry?.(copy);
        return { ledgerEntry: copy };
      }
      default:
        return { error: `unknown operation ${op}` };
    }
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ledger-verify-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function gatewayWith(size: number, checkpointAt = size): FakeGateway {
  const g = new FakeGateway();
  g.append(checkpointAt);
  if (checkpointAt > 0) g.checkpoint();
  g.append(size - checkpointAt);
  return g;
}

const verify = (g: FakeGateway, options: Partial<VerifyLedgerOptions> = {}) =>
  verifyLedgerOnce({ url: URL_BASE, token: TOKEN, fetch: g.fetch, ...options });

const failures = (report: { checks: { ok: boolean; name: string; detail: string }[] }) =>
  report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

describe('verifyLedgerOnce', () => {
  it('verifies the key, the signed checkpoint and the newest entry of an honest log', async () => {
    const g = gatewayWith(10, 8);
    const report = await verify(g);
    expect(failures(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['key', 'checkpoint', 'entry 7']);
    expect(report.checkpoint).toMatchObject({ origin: g.origin, treeSize: 8 });
  });

  it('proves chosen entries, past the latest checkpoint through a head signed for a covering size', async () => {
    const g = gatewayWith(10, 8);
    const report = await verify(g, { entries: [9, 1, 5, 1] });
    expect(failures(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual(['key', 'checkpoint', 'head', 'entry 1', 'entry 5', 'entry 9']);
    expect(report.checkpoint?.treeSize).toBe(10);
  });

  it('keeps state between runs and checks that the log only grew', async () => {
    const g = gatewayWith(8);
    const stateFile = join(dir, 'state.json');
    expect((await verify(g, { stateFile })).ok).toBe(true);
    const first = JSON.parse(readFileSync(stateFile, 'utf8')) as LedgerState;
    expect(first).toEqual(g.checkpoints[0]);

    g.append(5);
    g.checkpoint();
    const second = await verify(g, { stateFile });
    expect(failures(second)).toEqual([]);
    expect(second.checks.find((c) => c.name === 'consistency')?.detail).toMatch(/size 8 -> 13/);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual(g.checkpoints[1]);
    // Same size again: nothing new, still consistent.
    expect((await verify(g, { stateFile })).ok).toBe(true);
  });

  it('reports a log rewritten and re-signed since the saved state, and keeps the old state', async () => {
    const g = gatewayWith(8);
    const stateFile = join(dir, 'state.json');
    await verify(g, { stateFile });
    const saved = readFileSync(stateFile, 'utf8');
    g.entries[3] = { ...g.entries[3], data: g.entries[3].data.replace('"1003"', '"9003"'), payload: { x: 1 } };
    g.entries[3].data = g.entries[3].data.replace('{"account":"acc-3","amount":"9003"}', '{"x":1}');
    g.append(4);
    g.checkpoint();
    const report = await verify(g, { stateFile });
    expect(report.ok).toBe(false);
    expect(failures(report)).toEqual(['consistency: consistency proof 8 -> 12 does not verify: the log was rewritten']);
    expect(readFileSync(stateFile, 'utf8')).toBe(saved);
  });

  it('reports a log that shrank, changed origin, or lost its checkpoints', async () => {
    const g = gatewayWith(8);
    const previous = { ...g.head(8) };
    const bigger = gatewayWith(12);
    bigger.signer = g.signer;
    expect(failures(await verify(g, { previous: { ...bigger.head(12), origin: g.origin } }))).toEqual([
      'consistency: tree size went back from 12 to 8',
    ]);
    expect(failures(await verify(g, { previous: { ...previous, origin: 'nexus.local/ledger/other' } }))).toEqual([
      `consistency: origin is ${g.origin}, the saved state is for nexus.local/ledger/other`,
    ]);
    const sameSizeOtherRoot = { ...previous, rootHash: createHash('sha256').update('x').digest('base64') };
    expect(failures(await verify(g, { previous: sameSizeOtherRoot }))[0]).toMatch(/same size 8 but root/);
    const empty = new FakeGateway();
    expect(failures(await verify(empty, { previous }))).toEqual([
      'consistency: the log has no checkpoint, but size 8 was verified before',
    ]);
  });

  it('reports an entry whose data does not match its fields, whose leaf hash is wrong, or that is not included', async () => {
    const g = gatewayWith(6);
    g.alter.entry = (e) => void (e.payload = { account: 'acc-5', amount: '1' });
    expect(failures(await verify(g))[0]).toMatch(/^entry 5: data is not the canonical JSON of its fields/);

    g.alter.entry = (e) => void (e.leafHash = Buffer.alloc(32).toString('base64'));
    expect(failures(await verify(g))[0]).toMatch(/^entry 5: leafHash .* is not SHA-256\(0x00 \|\| data\)/);

    // Data and fields changed together after the checkpoint was signed: the proof cannot reach the signed root.
    g.alter.entry = undefined;
    g.entries[5].payload = { account: 'acc-5', amount: '1' };
    g.entries[5].data = g.entries[5].data.replace('"1005"', '"1"');
    expect(failures(await verify(g))).toEqual(['entry 5: inclusion proof does not lead to the root of size 6']);
  });

  it('reports a tampered or mismatching checkpoint', async () => {
    const g = gatewayWith(6);
    g.alter.checkpoint = (cp) => void (cp.note = String(cp.note).replace('\n6\n', '\n7\n'));
    expect(failures(await verify(g))).toEqual([
      'checkpoint: signed note: the Ed25519 signature by nexus.local/ledger does not verify',
    ]);
    g.alter.checkpoint = (cp) => void (cp.treeSize = 5);
    expect(failures(await verify(g))).toEqual(['checkpoint: fields differ from the signed note: treeSize 5 vs 6']);
    g.alter.checkpoint = undefined;
    expect(failures(await verify(g, { log: 'platform' }))).toEqual([
      `checkpoint: origin ${g.origin} is not a platform log origin`,
    ]);
  });

  it('reports a key that differs between the pinned or published key and the API', async () => {
    const g = gatewayWith(3);
    const other = newSigner('nexus.local/ledger');
    expect(failures(await verify(g, { key: other.vkey }))[0]).toMatch(/^key: ledgerPublicKey differs from --key/);
    g.publishedKey = other.vkey;
    expect(failures(await verify(g))[0]).toMatch(/^key: ledgerPublicKey differs from the published key/);
    g.publishedKey = null;
    g.apiKey = { algorithm: 'ES256' };
    expect(failures(await verify(g))).toEqual(['key: ledgerPublicKey differs from the published key: algorithm ES256']);
    // A checkpoint signed by another key under the same name is refused.
    g.apiKey = {};
    const real = g.signer;
    g.signer = other;
    g.checkpoint();
    g.signer = real;
    expect(failures(await verify(g))[0]).toMatch(/^checkpoint: signed note: no signature by nexus.local\/ledger\+/);
  });

  it('passes on a log without checkpoints and proves entries through a signed head', async () => {
    const g = gatewayWith(4, 0);
    const none = await verify(g);
    expect(none.ok).toBe(true);
    expect(none.checkpoint).toBeNull();
    const report = await verify(g, { entries: [2] });
    expect(failures(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual(['key', 'head', 'entry 2']);
  });

  it('throws TransportError for an unreachable gateway, GraphQL errors and refused tokens, UsageError for bad options', async () => {
    const g = gatewayWith(3);
    const down = (async () => {
      throw new Error('connect ECONNREFUSED');
    }) as typeof fetch;
    await expect(verifyLedgerOnce({ url: URL_BASE, token: TOKEN, fetch: down })).rejects.toThrow(TransportError);
    await expect(verify(g, { token: 'wrong' })).rejects.toThrow(/Not authenticated/);
    await expect(verify(g, { entries: [50] })).rejects.toThrow(TransportError);
    await expect(verify(g, { url: 'not a url' })).rejects.toThrow(UsageError);
    await expect(verify(g, { entries: [-1] })).rejects.toThrow(UsageError);
    await expect(verify(g, { key: 'garbage' })).rejects.toThrow(UsageError);
    const stateFile = join(dir, 'bad.json');
    writeFileSync(stateFile, '{"origin": 1}');
    await expect(verify(g, { stateFile })).rejects.toThrow(UsageError);
  });
});

describe('ledger:verify command', () => {
  const runCli = async (g: FakeGateway, argv: string[]) => {
    let out = '';
    let err = '';
    const code = await run(
      argv,
      {},
      (l) => void (out += l),
      (l) => void (err += l),
      g.fetch,
    );
    return { code, out, err };
  };

  it('exits 0 when every check passes, 1 on a mismatch, 2 on usage and transport errors', async () => {
    const g = gatewayWith(10, 8);
    const state = join(dir, 'state.json');
    const ok = await runCli(g, ['--url', URL_BASE, '--token', TOKEN, '--entries', '1,9', `--state=${state}`]);
    expect(ok.code).toBe(0);
    expect(ok.out.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^ok {4}key: nexus\.local\/ledger\+[0-9a-f]{8} \(published\) matches ledgerPublicKey$/),
      expect.stringMatching(/^ok {4}checkpoint: nexus\.local\/ledger\/.* size 8 root /),
      expect.stringMatching(/^ok {4}head: .* size 10 /),
      expect.stringMatching(/^ok {4}entry 1: test\.entry included in size 10/),
      expect.stringMatching(/^ok {4}entry 9: test\.entry included in size 10/),
      `verified; state saved to ${state}`,
    ]);

    g.alter.entry = (e) => void (e.type = 'other.type');
    const bad = await runCli(g, ['--url', URL_BASE, '--token', TOKEN, '--entries', '3']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^FAIL {2}entry 3: data is not the canonical JSON of its fields/m);
    expect(bad.out).toMatch(/MISMATCH: 1 check failed\n$/);

    expect((await runCli(g, ['--token', TOKEN])).code).toBe(2);
    const usage = await runCli(g, ['--url', URL_BASE, '--token', TOKEN, '--entries', '1,x']);
    expect([usage.code, usage.err]).toEqual([2, expect.stringContaining('--entries: x is not an entry index')]);
    const refused = await runCli(g, ['--url', URL_BASE, '--token', 'nope']);
    expect([refused.code, refused.err]).toEqual([2, expect.stringContaining('Not authenticated')]);
  });

  it('parses the documented arguments', () => {
    expect(
      parseArgs(['--url', 'http://x', '--token=t', '--log', 'PLATFORM', '--entries', '1, 5,9', '--state', 's.json']),
    ).toEqual({
      url: 'http://x',
      token: 't',
      log: 'platform',
      entries: [1, 5, 9],
      stateFile: 's.json',
      key: undefined,
    });
    expect(parseArgs(['--url', 'http://x'], { NEXUS_TOKEN: 'env' })?.token).toBe('env');
    expect(parseArgs(['--help'])).toBeNull();
    for (const bad of [
      ['--url'],
      ['--url', 'http://x', '--bogus', '1'],
      ['--url', 'http://x', '--token', 't', '--log', 'x'],
    ]) {
      expect(() => parseArgs(bad)).toThrow(UsageError);
    }
  });
});
