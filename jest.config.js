/** Tests run the real code against local stand-ins; see test/local-world. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // What installs or packs the package (npm ci of a copy, npm pack into a temp app) runs apart: npm run test:package.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/package/', '<rootDir>/test/cli/install.test.ts'],
  // Transpile only (esbuild); `npm run build` type-checks.
  transform: { '^.+\\.ts$': '<rootDir>/test/setup/esbuild-transform.js' },
  setupFiles: ['<rootDir>/test/setup/environment.ts'],
  // One moto server per worker, shared by the test files that worker runs (test/local-world/moto-pool.ts).
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // Test files run in parallel, one per core: every stand-in listens on a port the system picks.
  maxWorkers: '100%',
  // Costliest files first (measured CPU, test/setup/file-costs.json), so both workers end together.
  testSequencer: '<rootDir>/test/setup/sequencer.js',
  testTimeout: 120000,
};
