import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.spec.ts'],
    testTimeout: 120_000,
    // Property tests and corpus replay are CPU-bound; two cores on CI.
    pool: 'forks',
  },
});
