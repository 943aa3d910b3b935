import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const SUBGRAPHS = ['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence'];

/** type-graphql's `Authorized` takes any string: resolvers use kernel/auth's, which takes only catalogued permissions. */
const typedAuthorized = {
  name: 'type-graphql',
  importNames: ['Authorized'],
  message:
    'Use Authorized from kernel/auth: it takes only permissions of the catalogue (kernel/contracts/permissions.ts).',
};
const noCompositionRoot = {
  group: ['**/app/**', '**/app'],
  message: 'Nothing but tests and benchmarks imports the composition root (app/).',
};
const noSubgraphs = {
  group: ['**/subgraphs', '**/subgraphs/**'],
  message: 'Only app/ (the composition root), tests and benchmarks import the subgraphs.',
};
const noGateway = {
  group: ['**/gateway/**'],
  message: 'Only app/ (the composition root), tests and benchmarks import the gateway.',
};

/** A subgraph may import kernel/ and its own folder only: never another subgraph, never the gateway. */
const boundaries = SUBGRAPHS.map((name) => ({
  files: [`subgraphs/${name}/**/*.ts`, `migrations/${name}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: [typedAuthorized],
        patterns: [
          ...SUBGRAPHS.filter((other) => other !== name).map((other) => ({
            group: [`**/subgraphs/${other}/**`, `../${other}/**`, `../../${other}/**`, `**/migrations/${other}/**`],
            message: `The ${name} subgraph must not import the ${other} subgraph; share through kernel/ or events.`,
          })),
          { group: ['**/gateway/**'], message: 'Subgraphs must not import the gateway.' },
          noCompositionRoot,
        ],
      },
    ],
  },
}));

/** kernel/ imports only kernel/; the gateway imports kernel/ and itself; app/ (the composition root) starts both. */
const layers = [
  {
    files: ['**/*.ts'],
    ignores: ['kernel/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [typedAuthorized] }] },
  },
  {
    files: ['kernel/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSubgraphs, noGateway, noCompositionRoot] }] },
  },
  {
    files: ['gateway/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [typedAuthorized], patterns: [noSubgraphs, noCompositionRoot] }],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'tests/generated/', 'scratch/', '.nexus/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  ...layers,
  ...boundaries,
  prettier,
);
