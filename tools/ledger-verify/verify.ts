import { readFile, rename, writeFile } from 'node:fs/promises';
import { canonicalJson } from './canonical-json';
import { EMPTY_ROOT, leafHash, verifyConsistency, verifyInclusion } from './merkle';
import { decodeBase64, NoteFormatError, parseVerifierKey, verifyCheckpoint, type VerifierKey } from './signed-note';

/**
 * Independent verifier of a Nexus ledger, run from outside the platform: it needs only the gateway URL and a
 * token, and checks everything the gateway returns with its own RFC 9162 / RFC 8785 / C2SP signed-note code.
 */

export { canonicalJson, CanonicalJsonError } from './canonical-json';
export { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle';
export {
  decodeBase64,
  ed25519KeyId,
  formatVerifierKey,
  NoteFormatError,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  verifyCheckpoint,
  verifyNote,
} from './signed-note';
export type { Checkpoint, CheckpointResult, NoteResult, NoteSignature, VerifierKey } from './signed-note';

export type LedgerLog = 'tenant' | 'platform';

/** A checkpoint this verifier has checked; what `--state` keeps between runs. */
export interface LedgerState {
  origin: string;
  treeSize: number;
  rootHash: string;
  note: string;
}

export interface VerifyLedgerOptions {
  /** Gateway base URL (`…/graphql` is accepted too). */
  url: string;
  /** Bearer token (access token or API key) with `ledger:read` (and `platform:audit` for the platform log). */
  token: string;
  log?: LedgerLog;
  /** Entry indexes to prove; default: the newest entry of the checkpoint. */
  entries?: number[];
  /** Pinned verifier key; default: GET <url>/.well-known/nexus-ledger-key. */
  key?: string;
  /** File holding the last verified checkpoint; read, checked against, and rewritten when everything passes. */
  stateFile?: string;
  /** A previously verified checkpoint given directly (takes precedence over the file's content). */
  previous?: LedgerState | null;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface LedgerCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface LedgerVerifyReport {
  ok: boolean;
  checks: LedgerCheck[];
  /** The checkpoint everything was checked against (null when the log has none yet or checking stopped early). */
  checkpoint: LedgerState | null;
  /** The state written (or to write) after a fully successful run. */
  state: LedgerState | null;
}

/** Bad options or arguments (CLI exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The gateway could not be reached or answered something other than data (CLI exit code 2). */
export class TransportError extends Error {
  override name = 'TransportError';
}

const PLATFORM_ORIGIN_SUFFIX = '/platform';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const KEY_QUERY = `query LedgerVerifyKey { ledgerPublicKey { keyName keyId publicKey verifierKey algorithm } }`;
const CHECKPOINT_QUERY = `query LedgerVerifyCheckpoint($log: LedgerLogName, $treeSize: Int) {
  ledgerCheckpoint(log: $log, treeSize: $treeSize) { origin treeSize rootHash note }
}`;
const CONSISTENCY_QUERY = `query LedgerVerifyConsistency($log: LedgerLogName, $fromSize: Int!, $toSize: Int!) {
  ledgerConsistencyProof(log: $log, fromSize: $fromSize, toSize: $toSize) { fromSize toSize hashes }
}`;
const ENTRY_QUERY = `query LedgerVerifyEntry($log: LedgerLogName, $index: Int!, $treeSize: Int) {
  ledgerEntry(log: $log, index: $index) {
    index type payload time sourceEventId data leafHash
    inclusionProof(treeSize: $treeSize) { leafIndex treeSize hashes }
  }
}`;

interface GqlCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: string;
  note: string;
}

interface GqlEntry {
  index: number;
  type: string;
  payload: unknown;
  time: string;
  sourceEventId: string | null;
  data: string;
  leafHash: string;
  inclusionProof: { leafIndex: number; treeSize: number; hashes: string[] };
}

/** A mismatch that ends the run early (later checks would rest on it). */
class Stop extends Error {}

class Client {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(
    url: string,
    private readonly token: string,
    fetchImpl: typeof fetch | undefined,
    private readonly timeoutMs: number,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url ${url} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError('--url must be http(s)');
    this.base = url.replace(/\/+$/, '').replace(/\/graphql$/, '');
    this.fetchImpl = fetchImpl ?? fetch;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = [(err as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
      throw new TransportError(`${init.method ?? 'GET'} ${this.base}${path} failed: ${why}`);
    }
  }

  async text(path: string): Promise<string> {
    const res = await this.send(path, { method: 'GET' });
    const body = await res.text();
    if (!res.ok) throw new TransportError(`GET ${this.base}${path} answered HTTP ${res.status}`);
    return body;
  }

  async gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await this.send('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${this.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    let body: { data?: T | null; errors?: { message?: string }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new TransportError(`POST ${this.base}/graphql answered HTTP ${res.status} without JSON`);
    }
    if (body.errors?.length) {
      throw new TransportError(`GraphQL error: ${body.errors.map((e) => e.message ?? '?').join('; ')}`);
    }
    if (!res.ok || !body.data) throw new TransportError(`POST ${this.base}/graphql answered HTTP ${res.status}`);
    return body.data;
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function decodeHashes(list: unknown): Buffer[] | null {
  if (!Array.isArray(list)) return null;
  const out: Buffer[] = [];
  for (const item of list) {
    const h = typeof item === 'string' ? decodeBase64(item) : null;
    if (!h || h.length !== 32) return null;
    out.push(h);
  }
  return out;
}

/** The ISO 8601 form Date.toISOString gives, which is what the entry's `data` holds. */
function normaliseTime(time: string): string {
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? time : date.toISOString();
}

function checkEntryIndexes(entries: number[] | undefined): number[] | undefined {
  if (entries === undefined) return undefined;
  for (const i of entries) {
    if (!Number.isSafeInteger(i) || i < 0) throw new UsageError(`entry index ${i} is not a whole number >= 0`);
  }
  return [...new Set(entries)].sort((a, b) => a - b);
}

function isState(value: unknown): value is LedgerState {
  const v = value as LedgerState;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.origin === 'string' &&
    Number.isSafeInteger(v.treeSize) &&
    v.treeSize >= 0 &&
    typeof v.rootHash === 'string' &&
    decodeBase64(v.rootHash)?.length === 32 &&
    typeof v.note === 'string'
  );
}

/** Reads a state file; null when it does not exist yet. */
export async function readState(file: string): Promise<LedgerState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read state file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`state file ${file} is not JSON`);
  }
  if (!isState(value)) throw new UsageError(`state file ${file} does not hold {origin, treeSize, rootHash, note}`);
  return value;
}

/** Writes a state file atomically (temporary file, then rename). */
export async function writeState(file: string, state: LedgerState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, 'utf8');
  await rename(tmp, file);
}

/**
 * One verification run: verifier key, signed checkpoint, consistency with the previous state, and inclusion of
 * the chosen entries. Mismatches are reported in `checks` (ok = false); bad options throw UsageError and an
 * unreachable or erroring gateway throws TransportError.
 */
export async function verifyLedgerOnce(options: VerifyLedgerOptions): Promise<LedgerVerifyReport> {
  const log: LedgerLog = options.log ?? 'tenant';
  if (log !== 'tenant' && log !== 'platform') throw new UsageError('--log must be tenant or platform');
  if (!options.token) throw new UsageError('a token is required');
  const entries = checkEntryIndexes(options.entries);
  const client = new Client(options.url, options.token, options.fetch, options.timeoutMs ?? 30_000);
  const logName = log === 'platform' ? 'PLATFORM' : 'TENANT';
  const previous =
    options.previous !== undefined ? options.previous : options.stateFile ? await readState(options.stateFile) : null;
  if (options.previous && !isState(options.previous)) throw new UsageError('previous is not a ledger state');

  const checks: LedgerCheck[] = [];
  const pass = (name: string, detail: string): void => void checks.push({ name, ok: true, detail });
  const fail = (name: string, detail: string): void => void checks.push({ name, ok: false, detail });
  const stop = (name: string, detail: string): never => {
    fail(name, detail);
    throw new Stop(detail);
  };
  let checkpoint: LedgerState | null = null;

  try {
    // 1. The verifier key, pinned or published, must be the one the API reports.
    const key = await verifierKey(client, options.key, stop);
    const api = (await client.gql<{ ledgerPublicKey: Record<string, string> }>(KEY_QUERY)).ledgerPublicKey;
    if (!api) stop('key', 'ledgerPublicKey returned nothing');
    const apiProblems = [
      api.verifierKey?.trim() !== key.text && `verifierKey ${api.verifierKey}`,
      api.keyName !== key.name && `keyName ${api.keyName}`,
      api.keyId?.toLowerCase() !== hex(key.keyId) && `keyId ${api.keyId}`,
      api.publicKey !== key.publicKey.toString('base64') && `publicKey ${api.publicKey}`,
      api.algorithm !== 'Ed25519' && `algorithm ${api.algorithm}`,
    ].filter(Boolean);
    if (apiProblems.length) {
      stop('key', `ledgerPublicKey differs from ${options.key ? '--key' : 'the published key'}: ${apiProblems}`);
    }
    pass('key', `${key.name}+${hex(key.keyId)} (${options.key ? 'pinned' : 'published'}) matches ledgerPublicKey`);

    // 2. The latest signed checkpoint.
    const latest = await fetchCheckpoint(client, logName, undefined);
    let head: LedgerState | null = null;
    if (latest) {
      head = checkSignedCheckpoint('checkpoint', latest, key, log, stop);
      pass('checkpoint', `${head.origin} size ${head.treeSize} root ${head.rootHash} signed by ${key.name}`);
    }

    // Entries past the latest checkpoint are proven against a head signed for a size that covers them.
    const wanted = entries ?? (head && head.treeSize > 0 ? [head.treeSize - 1] : []);
    const needed = wanted.length ? wanted[wanted.length - 1] + 1 : 0;
    if (needed > (head?.treeSize ?? 0)) {
      const fresh = await fetchCheckpoint(client, logName, needed);
      if (!fresh) stop('head', `no signed head for size ${needed}`);
      const newer = checkSignedCheckpoint('head', fresh!, key, log, stop);
      if (newer.treeSize !== needed) stop('head', `asked for a head of size ${needed}, got ${newer.treeSize}`);
      if (head) {
        await checkConsistency(client, logName, 'head', head, newer, stop);
      }
      pass('head', `${newer.origin} size ${newer.treeSize} root ${newer.rootHash} signed by ${key.name}`);
      head = newer;
    }
    checkpoint = head;

    // 3. Consistency with what was verified before.
    if (previous) {
      if (!head) {
        fail('consistency', `the log has no checkpoint, but size ${previous.treeSize} was verified before`);
      } else if (head.origin !== previous.origin) {
        fail('consistency', `origin is ${head.origin}, the saved state is for ${previous.origin}`);
      } else if (head.treeSize < previous.treeSize) {
        fail('consistency', `tree size went back from ${previous.treeSize} to ${head.treeSize}`);
      } else {
        const ok = await checkConsistency(client, logName, 'consistency', previous, head, fail);
        if (ok) pass('consistency', `size ${previous.treeSize} -> ${head.treeSize}: the saved tree is a prefix`);
      }
    }

    // 4. Inclusion of the entries.
    if (!head) {
      pass('entries', 'the log has no checkpoint yet: nothing to prove');
    } else {
      for (const index of wanted) await checkEntry(client, logName, index, head, pass, fail);
    }
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }

  const ok = checks.length > 0 && checks.every((c) => c.ok);
  const state = ok && checkpoint ? checkpoint : null;
  if (state && options.stateFile) await writeState(options.stateFile, state);
  return { ok, checks, checkpoint, state };
}

async function verifierKey(
  client: Client,
  pinned: string | undefined,
  stop: (name: string, detail: string) => never,
): Promise<VerifierKey> {
  if (pinned !== undefined) {
    try {
      return parseVerifierKey(pinned);
    } catch (err) {
      throw new UsageError(`--key: ${(err as Error).message}`);
    }
  }
  const text = await client.text('/.well-known/nexus-ledger-key');
  try {
    return parseVerifierKey(text);
  } catch (err) {
    if (err instanceof NoteFormatError) stop('key', `published key: ${err.message}`);
    throw err;
  }
}

async function fetchCheckpoint(
  client: Client,
  log: string,
  treeSize: number | undefined,
): Promise<GqlCheckpoint | null> {
  const data = await client.gql<{ ledgerCheckpoint: GqlCheckpoint | null }>(CHECKPOINT_QUERY, { log, treeSize });
  return data.ledgerCheckpoint ?? null;
}

/** The note's signature and body, and the GraphQL fields against the body. */
function checkSignedCheckpoint(
  name: string,
  cp: GqlCheckpoint,
  key: VerifierKey,
  log: LedgerLog,
  stop: (name: string, detail: string) => never,
): LedgerState {
  if (typeof cp.note !== 'string') stop(name, 'checkpoint has no note');
  const result = verifyCheckpoint(cp.note, key);
  if (!result.ok) return stop(name, `signed note: ${result.problem}`);
  const body = result.checkpoint;
  const differs = [
    cp.origin !== body.origin && `origin ${cp.origin} vs ${body.origin}`,
    cp.treeSize !== body.treeSize && `treeSize ${cp.treeSize} vs ${body.treeSize}`,
    decodeBase64(cp.rootHash ?? '')?.equals(body.root) !== true && `rootHash ${cp.rootHash} vs ${body.rootHash}`,
  ].filter(Boolean);
  if (differs.length) stop(name, `fields differ from the signed note: ${differs.join(', ')}`);
  if (log === 'platform' && !body.origin.endsWith(PLATFORM_ORIGIN_SUFFIX)) {
    stop(name, `origin ${body.origin} is not a platform log origin`);
  }
  if (log === 'tenant' && !UUID.test(body.origin.slice(body.origin.lastIndexOf('/') + 1))) {
    stop(name, `origin ${body.origin} is not a tenant log origin`);
  }
  if (body.treeSize === 0 && !body.root.equals(EMPTY_ROOT)) stop(name, 'empty tree with a root other than SHA-256("")');
  return { origin: body.origin, treeSize: body.treeSize, rootHash: body.rootHash, note: cp.note };
}

async function checkConsistency(
  client: Client,
  log: string,
  name: string,
  from: LedgerState,
  to: LedgerState,
  fail: (name: string, detail: string) => void,
): Promise<boolean> {
  const oldRoot = decodeBase64(from.rootHash)!;
  const newRoot = decodeBase64(to.rootHash)!;
  let hashes: Buffer[] | null = [];
  if (from.treeSize !== 0 && from.treeSize !== to.treeSize) {
    const data = await client.gql<{ ledgerConsistencyProof: { fromSize: number; toSize: number; hashes: string[] } }>(
      CONSISTENCY_QUERY,
      { log, fromSize: from.treeSize, toSize: to.treeSize },
    );
    const proof = data.ledgerConsistencyProof;
    if (!proof || proof.fromSize !== from.treeSize || proof.toSize !== to.treeSize) {
      fail(name, `asked for a proof ${from.treeSize} -> ${to.treeSize}, got ${proof?.fromSize} -> ${proof?.toSize}`);
      return false;
    }
    hashes = decodeHashes(proof.hashes);
    if (!hashes) {
      fail(name, 'consistency proof hashes are not base64 of 32 bytes');
      return false;
    }
  }
  if (!verifyConsistency(from.treeSize, to.treeSize, hashes, oldRoot, newRoot)) {
    fail(
      name,
      from.treeSize === to.treeSize
        ? `same size ${to.treeSize} but root ${to.rootHash} differs from ${from.rootHash}`
        : `consistency proof ${from.treeSize} -> ${to.treeSize} does not verify: the log was rewritten`,
    );
    return false;
  }
  return true;
}

async function checkEntry(
  client: Client,
  log: string,
  index: number,
  head: LedgerState,
  pass: (name: string, detail: string) => void,
  fail: (name: string, detail: string) => void,
): Promise<void> {
  const name = `entry ${index}`;
  if (index >= head.treeSize) {
    fail(name, `not covered by the checkpoint of size ${head.treeSize}`);
    return;
  }
  const data = await client.gql<{ ledgerEntry: GqlEntry | null }>(ENTRY_QUERY, {
    log,
    index,
    treeSize: head.treeSize,
  });
  const e = data.ledgerEntry;
  if (!e) return fail(name, `missing, though the checkpoint of size ${head.treeSize} covers it`);
  if (e.index !== index) return fail(name, `asked for index ${index}, got ${e.index}`);
  let expected: string;
  try {
    expected = canonicalJson({
      index: e.index,
      payload: e.payload,
      sourceEventId: e.sourceEventId ?? null,
      time: normaliseTime(e.time),
      type: e.type,
    });
  } catch (err) {
    return fail(name, `fields cannot be canonicalised: ${(err as Error).message}`);
  }
  if (e.data !== expected) return fail(name, `data is not the canonical JSON of its fields: ${e.data}`);
  const leaf = leafHash(e.data);
  if (decodeBase64(e.leafHash ?? '')?.equals(leaf) !== true) {
    return fail(name, `leafHash ${e.leafHash} is not SHA-256(0x00 || data) = ${leaf.toString('base64')}`);
  }
  const proof = e.inclusionProof;
  if (!proof || proof.leafIndex !== index || proof.treeSize !== head.treeSize) {
    return fail(name, `inclusion proof is for leaf ${proof?.leafIndex} of size ${proof?.treeSize}`);
  }
  const hashes = decodeHashes(proof.hashes);
  if (!hashes) return fail(name, 'inclusion proof hashes are not base64 of 32 bytes');
  if (!verifyInclusion(leaf, index, head.treeSize, hashes, decodeBase64(head.rootHash)!)) {
    return fail(name, `inclusion proof does not lead to the root of size ${head.treeSize}`);
  }
  pass(name, `${e.type} included in size ${head.treeSize} (leaf ${leaf.toString('base64')})`);
}
