import type { Request, RequestHandler } from 'express';
import { BREAK, GraphQLError, visit, type DocumentNode } from 'graphql';
import { KernelErrorCode } from '../kernel/errors';
import { findUnstorableText, isStorableText, unstorableTextMessage } from '../kernel/text';

/**
 * The gateway's one check of incoming text (kernel/text.ts): every string of an operation — its variables
 * and the string literals written into it — over HTTP and WebSocket, and the query string and JSON or
 * form body of hook calls. NUL characters and unpaired surrogates are refused with BAD_USER_INPUT before
 * any subgraph is called.
 */
export function checkInputText(
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
): GraphQLError | null {
  const inVariables = findUnstorableText(variables ?? {}, 'variables');
  if (inVariables) return refusal(inVariables.path);
  let literal = false;
  visit(document, {
    StringValue(node) {
      if (isStorableText(node.value)) return undefined;
      literal = true;
      return BREAK;
    },
  });
  return literal ? refusal('a string literal of the operation') : null;
}

function refusal(where: string): GraphQLError {
  return new GraphQLError(unstorableTextMessage(where), {
    extensions: { code: KernelErrorCode.BAD_USER_INPUT, http: { status: 400 } },
  });
}

/** Where the text of a hook call is unstorable (its query string, or a JSON or form body), if anywhere. */
function hookTextProblem(req: Request): string | null {
  const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  for (const [key, value] of new URLSearchParams(query))
    if (!isStorableText(key) || !isStorableText(value)) return 'query string';
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) return null;
  const type = (req.header('content-type') ?? '').toLowerCase();
  if (type.includes('json')) {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return null; // not JSON after all: the hook answers that itself
    }
    return findUnstorableText(body, 'body')?.path ?? null;
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [key, value] of new URLSearchParams(req.body.toString('utf8')))
      if (!isStorableText(key) || !isStorableText(value)) return 'body';
  }
  return null;
}

/** Express middleware for hook routes (after the raw body parser): refuses such text with 400 BAD_USER_INPUT. */
export const hookTextCheck: RequestHandler = (req, res, next) => {
  const problem = hookTextProblem(req);
  if (!problem) return next();
  res.status(400).json({ error: { code: KernelErrorCode.BAD_USER_INPUT, message: unstorableTextMessage(problem) } });
};
