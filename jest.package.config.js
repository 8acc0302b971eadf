/** The package as a user gets it: `npm ci --omit=dev` of a copy, and `npm pack` embedded in a temp CDK app. */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/package/**/*.test.ts', '<rootDir>/test/cli/install.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
};
