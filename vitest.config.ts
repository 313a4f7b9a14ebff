import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start servers and databases: a few files at a time on a 2-core machine.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
