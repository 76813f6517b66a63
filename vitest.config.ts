import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that need the full data sets: left out of `npm test`, run by `npm run test:data`. */
export const DATA_TESTS = 'test/**/*.data.test.ts';

export const testOptions = {
  // Finite-difference checks in rank 3 and the small training runs take seconds each.
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, DATA_TESTS],
    ...testOptions,
  },
});
