/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests', '<rootDir>/kernel', '<rootDir>/gateway', '<rootDir>/subgraphs'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only (type checking is `npm run typecheck`); keeps decorator metadata.
    '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true, module: 'commonjs', moduleResolution: 'node', experimentalDecorators: true, emitDecoratorMetadata: true, target: 'es2022', esModuleInterop: true } }],
  },
  setupFiles: ['reflect-metadata'],
  testTimeout: 60000,
};
