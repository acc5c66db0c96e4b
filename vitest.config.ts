import { defineConfig } from 'vitest/config';

// `npm test` runs test/e2e/disk-full.test.ts alone after everything else: it mounts a small
// filesystem and fills it, and beside the rest of the suite its recovery check once did not see
// the space return within 20 s (it passes alone in 0.3-3 s).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
