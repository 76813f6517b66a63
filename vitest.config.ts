import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Finite-difference checks in rank 3 and the small training runs take seconds each.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
