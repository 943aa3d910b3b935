/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests', '<rootDir>/kernel', '<rootDir>/gateway', '<rootDir>/subgraphs'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  // jose ships ESM only: let swc turn it into CommonJS for the test runtime.
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  setupFiles: ['reflect-metadata'],
  testTimeout: 60000,
};
