import { createHash } from 'node:crypto';

/** Who the identity provider signed in: its subject, one valid e-mail address, and its groups. */
export interface Claims {
  subject: string;
  email: string;
  groups: string[];
}

export function asGroups(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
