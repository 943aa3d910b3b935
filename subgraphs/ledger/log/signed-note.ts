import { sign } from 'node:crypto';
import { noteKeyId, type NoteKey } from '../../../kernel/ledger-key';

export { noteKeyId, verifierKey, type NoteKey } from '../../../kernel/ledger-key';

/** Checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes (Ed25519). */
export function checkpointBody(origin: string, size: number, root: Buffer): string {
  return `${origin}\n${size}\n${root.toString('base64')}\n`;
}

/** The signed note: body, a blank line, one signature line (`— <name> <base64(key id ‖ signature)>`). */
export function signCheckpoint(key: NoteKey, origin: string, size: number, root: Buffer): string {
  if (!key.privateKey) throw new Error('NEXUS_LEDGER_PRIVATE_KEY is not configured');
  const body = checkpointBody(origin, size, root);
  const signature = sign(null, Buffer.from(body, 'utf8'), key.privateKey);
  return `${body}\n\u2014 ${key.name} ${Buffer.concat([noteKeyId(key), signature]).toString('base64')}\n`;
}
