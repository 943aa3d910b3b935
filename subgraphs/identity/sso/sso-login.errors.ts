import type { HookResponse } from '../../../kernel/http/hooks';

/** A refused sign-in: the code and message shown on the error page, and the HTTP status. */
export class SsoRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The answer to a refused sign-in: an error page for a browser, `{ error: { code, message } }` for a JSON client. */
export function refusalPage(status: number, code: string, message: string, json: boolean): HookResponse {
  if (json) return { status, body: { error: { code, message } } };
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head><body><h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p>Code: <code id="error-code">${code}</code></p></body></html>`,
  };
}
