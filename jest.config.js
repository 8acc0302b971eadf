/** Tests run the real code against local stand-ins; see test/local-world. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/setup/environment.ts'],
  testTimeout: 120000,
};
