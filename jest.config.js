/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests', '<rootDir>/kernel', '<rootDir>/gateway', '<rootDir>/subgraphs', '<rootDir>/tools'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only (type checking is `npm run typecheck`); keeps decorator metadata. CommonJS output as
    // Node's module mode gives it: `import()` of an ESM-only package (openid-client) stays a real import.
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: {
          isolatedModules: true,
          module: 'node16',
          moduleResolution: 'node16',
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          target: 'es2022',
          esModuleInterop: true,
        },
      },
    ],
  },
  setupFiles: ['reflect-metadata'],
  // One migrated template database per run; each test file's fresh database is a copy of it.
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
  testTimeout: 60000,
};
