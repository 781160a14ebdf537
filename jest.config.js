/** @type {import('jest').Config} */
// @vlasky/zongji (the binlog reader) is an ES module: Node 20.19+ requires it as it is, jest's module registry
// (before Node 24.9) cannot, so jest compiles it to CommonJS.
const ESM_PACKAGES = '@vlasky/zongji';
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  [`^.+/node_modules/(?:${ESM_PACKAGES})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', esModuleInterop: true }, isolatedModules: true }],
};
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: [`/node_modules/(?!(?:${ESM_PACKAGES})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
};

// Every production file counts, loaded by a test or not (bench/ and docs/ scripts are tools, not product).
const collectCoverageFrom = [
  '{strangler-proxy,outbox,sync,rollout,cli,infra,dashboards,service-kit,legacy-monolith,extracted,case-study}/**/*.ts',
  '!**/*.d.ts',
];

module.exports = {
  // Integration tests wait on real brokers and servers; unit tests finish far inside this.
  testTimeout: 120_000,
  collectCoverageFrom,
  coverageReporters: ['text-summary', 'json-summary'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
