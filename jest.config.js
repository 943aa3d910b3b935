/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests', '<rootDir>/kernel', '<rootDir>/gateway', '<rootDir>/subgraphs'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+/node_modules/(openid-client|oauth4webapi|jose)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs', target: 'es2022' } }],
    // Transpile only (type checking is `npm run typecheck`); keeps decorator metadata.
    '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true, module: 'commonjs', moduleResolution: 'node', experimentalDecorators: true, emitDecoratorMetadata: true, target: 'es2022', esModuleInterop: true } }],
  },
  // ESM-only packages the identity subgraph uses, compiled to CommonJS for jest's module registry.
  transformIgnorePatterns: ['/node_modules/(?!(openid-client|oauth4webapi|jose)/)'],
  setupFiles: ['reflect-metadata'],
  testTimeout: 60000,
};
