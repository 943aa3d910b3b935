import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

/** Parsed, valid operations kept for reuse (oldest dropped first). */
const MAX_DOCUMENTS = 1_000;
const MAX_CACHED_QUERY_CHARS = 8_192;

/** As Apollo Server does for HTTP when schema details are hidden from clients (production). */
function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}

/**
 * Thousands of clients send the same few operations: each is parsed and validated once per schema. Errors are
 * those Apollo Server gives over HTTP (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, no suggestions in production).
 */
export class DocumentCache {
  private readonly documents = new Map<string, { schema: GraphQLSchema; document: DocumentNode }>();

  constructor(private readonly production: boolean) {}

  /** The query parsed and valid against `schema`, or why not. */
  document(schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[] {
    const known = this.documents.get(query);
    if (known && known.schema === schema) return known.document;
    let document: DocumentNode;
    try {
      document = parse(query, { noLocation: true });
    } catch (err) {
      return [new GraphQLError((err as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
    }
    if (validate(schema, document).length) return this.validationErrors(schema, query);
    if (query.length <= MAX_CACHED_QUERY_CHARS) {
      if (this.documents.size >= MAX_DOCUMENTS) this.documents.delete(this.documents.keys().next().value!);
      this.documents.set(query, { schema, document });
    }
    return document;
  }

  /** Reported with source locations (the document kept for reuse has none). */
  private validationErrors(schema: GraphQLSchema, query: string): GraphQLError[] {
    return validate(schema, parse(query)).map(
      (e) =>
        new GraphQLError(this.production ? withoutSuggestions(e.message) : e.message, {
          nodes: e.nodes,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
    );
  }
}
