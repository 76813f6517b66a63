import { defineConfig } from 'vitest/config';
import { DATA_TESTS, testOptions } from './vitest.config.js';

/** `npm run test:data`: only the tests that need the full data sets (see test/data.ts). */
export default defineConfig({
  test: {
    include: [DATA_TESTS],
    ...testOptions,
  },
});
