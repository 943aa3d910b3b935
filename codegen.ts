import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed operations (TypedDocumentNode) for the tests, generated against the supergraph's API schema. */
const config: CodegenConfig = {
  schema: 'schema/api.graphql',
  documents: ['tests/**/*.graphql'],
  generates: {
    'tests/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTimeISO: 'string' },
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: false },
      },
    },
  },
  hooks: { afterAllFileWrite: [] },
};

export default config;
