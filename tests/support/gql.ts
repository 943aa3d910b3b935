import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export interface GqlResult<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
}

export interface GqlOptions {
  token?: string;
  headers?: Record<string, string>;
}

/** Sends a typed operation to the gateway the way a client does. */
export async function gql<T, V>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  options: GqlOptions = {},
): Promise<GqlResult<T>> {
  return rawGql<T>(url, { query: print(document), variables }, options);
}

export async function rawGql<T = Record<string, unknown>>(
  url: string,
  body: unknown,
  options: GqlOptions = {},
): Promise<GqlResult<T>> {
  return (await rawGqlResponse<T>(url, body, options)).result;
}

/** The same, with the response's headers (Retry-After, x-request-id…). */
export async function rawGqlResponse<T = Record<string, unknown>>(
  url: string,
  body: unknown,
  options: GqlOptions = {},
): Promise<{ result: GqlResult<T>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: { data?: T | null; errors?: GqlResult<T>['errors'] } = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { errors: [{ message: text }] };
  }
  return { result: { status: res.status, data: json.data, errors: json.errors }, headers: res.headers };
}

export function codes(result: GqlResult<unknown>): (string | undefined)[] {
  return (result.errors ?? []).map((e) => e.extensions?.code);
}
