import {
  generateKeyPairSync,
  createPublicKey,
  createPrivateKey,
  createHash,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config';
import { logger } from './log';

/**
 * Three Ed25519 key pairs:
 * - access: identity signs access tokens, the gateway verifies them;
 * - context: the gateway signs per-subgraph context tokens, subgraphs verify them;
 * - ledger: the ledger signs its checkpoints, the gateway publishes the public half (only those two need it).
 * Each service only needs the halves it uses. In development missing keys are generated once and kept
 * under NEXUS_DATA_DIR/keys so restarts keep sessions valid.
 */
export interface KeyPair {
  privateKey?: KeyObject;
  publicKey: KeyObject;
  kid: string;
}
export interface PlatformKeys {
  access: KeyPair;
  context: KeyPair;
  /** Absent only in production when not configured (services that do not sign or publish checkpoints). */
  ledger?: KeyPair;
  /** NEXUS_DATA_KEY when configured (see dataKey). */
  data?: Buffer;
}

const log = logger('keys');

export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url').slice(0, 16);
}

function pair(privatePem: string | undefined, publicPem: string | undefined): KeyPair | undefined {
  if (!privatePem && !publicPem) return undefined;
  const privateKey = privatePem ? createPrivateKey(privatePem) : undefined;
  const publicKey = publicPem ? createPublicKey(publicPem) : createPublicKey(privateKey!);
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('Nexus keys must be Ed25519');
  return { privateKey, publicKey, kid: keyId(publicKey) };
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, kid: keyId(publicKey) };
}

/** Reads the key, or creates it; services starting at the same time all end up with the first one written. */
function persistedPair(dir: string, name: string): KeyPair {
  const file = join(dir, `${name}.key.pem`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
    writeFileSync(temp, generateKeyPair().privateKey!.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
    });
    try {
      linkSync(temp, file); // atomic, and fails if another process got there first
      log.warn({ file }, `generated a development ${name} signing key`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(temp);
    }
  }
  return pair(readFileSync(file, 'utf8'), undefined)!;
}

export function loadKeys(config: Config): PlatformKeys {
  const k = config.keys;
  const dir = join(config.database.NEXUS_DATA_DIR, 'keys');
  const access = pair(k.NEXUS_ACCESS_TOKEN_PRIVATE_KEY, k.NEXUS_ACCESS_TOKEN_PUBLIC_KEY);
  const context = pair(k.NEXUS_CONTEXT_PRIVATE_KEY, k.NEXUS_CONTEXT_PUBLIC_KEY);
  const ledger = pair(k.NEXUS_LEDGER_PRIVATE_KEY, k.NEXUS_LEDGER_PUBLIC_KEY);
  if ((!access || !context) && config.server.NODE_ENV === 'production') {
    throw new Error('Signing keys must be configured in production');
  }
  if (!k.NEXUS_DATA_KEY && config.server.NODE_ENV === 'production')
    throw new Error('NEXUS_DATA_KEY must be configured in production');
  return {
    access: access ?? persistedPair(dir, 'access'),
    context: context ?? persistedPair(dir, 'context'),
    ledger: ledger ?? (config.server.NODE_ENV === 'production' ? undefined : persistedPair(dir, 'ledger')),
    data: k.NEXUS_DATA_KEY,
  };
}

/**
 * The key that seals secrets stored in the database (NEXUS_DATA_KEY); outside production, when none is
 * configured, one derived from the context signing key (so a development install keeps working).
 */
export function dataKey(keys: PlatformKeys): Buffer {
  if (keys.data) return keys.data;
  if (!keys.context.privateKey) throw new Error('NEXUS_DATA_KEY is not configured');
  const material = keys.context.privateKey.export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'nexus data key', 32));
}

export function exportPem(pair: KeyPair): { privatePem?: string; publicPem: string } {
  return {
    privatePem: pair.privateKey?.export({ type: 'pkcs8', format: 'pem' }) as string | undefined,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}
