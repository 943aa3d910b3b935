import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const SUBGRAPHS = ['identity', 'tenancy', 'commerce', 'ledger', 'messaging', 'intelligence'];

/** A subgraph may import kernel/ and its own folder only: never another subgraph, never the gateway. */
const boundaries = SUBGRAPHS.map((name) => ({
  files: [`subgraphs/${name}/**/*.ts`, `migrations/${name}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...SUBGRAPHS.filter((other) => other !== name).map((other) => ({
            group: [`**/subgraphs/${other}/**`, `../${other}/**`, `../../${other}/**`, `**/migrations/${other}/**`],
            message: `The ${name} subgraph must not import the ${other} subgraph; share through kernel/ or events.`,
          })),
          { group: ['**/gateway/**'], message: 'Subgraphs must not import the gateway.' },
        ],
      },
    ],
  },
}));

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
  ...boundaries,
  prettier,
);
