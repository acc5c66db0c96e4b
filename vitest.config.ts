import { defineConfig } from 'vitest/config';

// `npm test` runs test/e2e/disk-full.test.ts alone after everything else: it mounts a small
// filesystem, fills it under load and times the recovery, which the rest of the suite beside it
// would slow down. (Its one failure in CI was the access log filling the filesystem by itself,
// now rotated; see docs/security.md.)
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
