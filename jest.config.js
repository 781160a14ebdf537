/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

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
