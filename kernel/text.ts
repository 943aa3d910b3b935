/**
 * Text as every service takes it in.
 *
 * PostgreSQL cannot hold a NUL character in `text` or `jsonb`, and stores an unpaired UTF-16 surrogate as
 * U+FFFD, while JavaScript keeps both: a value holding either fails to store, or is stored as something
 * other than what was checked, hashed or compared. Such text is refused at the edge (the gateway checks
 * every string of an operation, its variables and literals; subgraphs check their arguments again) and
 * replaced where a record must be written whatever it holds (the audit log).
 */

import type { MiddlewareFn } from 'type-graphql';
import { AppError, KernelErrorCode } from './errors';

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /[\u0000\p{Cs}]/u;
// eslint-disable-next-line no-control-regex
const UNSTORABLE_ALL = /[\u0000\p{Cs}]/gu;

/** Bidirectional formatting controls: they reorder how a name is displayed (U+202A–202E, U+2066–2069, U+200E/200F, U+061C). */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/g;

/** Whether PostgreSQL stores `value` exactly as JavaScript holds it: no NUL, no unpaired surrogate. */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/**
 * Where in a JSON-like value (GraphQL variables or arguments, a parsed request body) the first string or
 * object key that is not storable text (or longer than `maxLength`) is, as a dotted path under `root`;
 * null when there is none. Walks without recursion, so a deeply nested body cannot exhaust the stack.
 */
export function findUnstorableText(
  value: unknown,
  root: string,
  maxLength = Infinity,
): { path: string; tooLong: boolean } | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return { path, tooLong: false };
      if (item.length > maxLength) return { path, tooLong: true };
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}.${i}`]);
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      for (const [key, inner] of Object.entries(item)) {
        if (!isStorableText(key)) return { path: `${path}.${storableText(key)}`, tooLong: false };
        stack.push([inner, `${path}.${key}`]);
      }
    }
  }
  return null;
}

/** The message every refusal of such text gives (the path names the offending input). */
export function unstorableTextMessage(path: string): string {
  return `Text may not contain NUL characters or unpaired UTF-16 surrogates (${path})`;
}

/** `value` with NUL characters and unpaired surrogates replaced by U+FFFD, as PostgreSQL would store it. */
export function storableText(value: string): string {
  return value.replace(UNSTORABLE_ALL, '\uFFFD');
}

/** Every string (and key) of a JSON-like value made storable; other values as they are. */
export function storableJson<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) return value.map((v) => storableJson(v)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableJson(v)])) as T;
  }
  return value;
}

/** `value` without bidirectional formatting controls. */
export function stripBidiControls(value: string): string {
  return value.replace(BIDI_CONTROLS, '');
}

/**
 * A name as it is stored and shown (tenants, rooms, roles, groups, API keys, products, webhooks, SSO
 * connections, modules, document titles): NFC, without control characters or bidirectional formatting
 * controls (which make a name display as something it is not), trimmed. Length is checked afterwards.
 */
export function cleanName(value: string): string {
  return value.normalize('NFC').replace(CONTROL_CHARACTERS, '').replace(BIDI_CONTROLS, '').trim();
}

/**
 * The longest free-text inputs, in characters as JavaScript counts them (UTF-16 code units), checked by
 * the service that stores them and stated in the schema's descriptions. No string argument of any
 * operation may be longer than MAX_TEXT_INPUT (subgraphs refuse it with BAD_USER_INPUT).
 */
export const TEXT_LIMITS = {
  tenantName: 100,
  /** A tenant's display name and e-mail sender name (branding). */
  brandName: 100,
  roomName: 80,
  webhookName: 80,
  roleName: 60,
  roleDescription: 300,
  groupName: 60,
  apiKeyName: 100,
  productName: 120,
  ssoConnectionName: 80,
  /** A group an identity provider sends, as named in a connection's role mapping. */
  ssoGroup: 200,
  /** An identity provider's identifiers: SAML entity id, OIDC client id, each scope, the groups claim. */
  ssoIdentifier: 500,
  moduleName: 100,
  entitlementKey: 100,
  /** An entitlement given as text. */
  entitlementValue: 500,
  documentTitle: 200,
  /** Up to 3 bytes a character in UTF-8: the longest document fits in a request of LIMIT_MAX_BODY_BYTES (100,000 by default) in any script. */
  documentContent: 30_000,
  message: 4000,
  clientMessageId: 100,
  /** Reasons given for moderation, suspension, observation and impersonation. */
  reason: 500,
  ledgerMemo: 500,
  presenceDevice: 100,
  presencePage: 300,
} as const;

export const MAX_TEXT_INPUT = 100_000;

/** "1 to N characters", for schema descriptions and error messages. */
export function lengthRange(max: number, min = 1): string {
  return min > 0 ? `${min} to ${max} characters` : `at most ${max} characters`;
}

/**
 * Global middleware of every subgraph schema (the defence behind the gateway's check): a field whose
 * arguments hold a NUL, an unpaired surrogate or a string longer than MAX_TEXT_INPUT is refused with
 * BAD_USER_INPUT before its resolver runs.
 */
export const refuseUnstorableArguments: MiddlewareFn = async ({ args, info }, next) => {
  for (const name in args) {
    const found = findUnstorableText(args[name], name, MAX_TEXT_INPUT);
    if (!found) continue;
    const message = found.tooLong
      ? `Text inputs are at most ${MAX_TEXT_INPUT} characters (${found.path})`
      : unstorableTextMessage(found.path);
    throw new AppError(KernelErrorCode.BAD_USER_INPUT, message, { field: `${info.parentType.name}.${info.fieldName}` });
  }
  return next();
};
