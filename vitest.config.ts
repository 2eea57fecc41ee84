import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** End-to-end fault tests that spend most of their time waiting out an outage (see `test` below). */
const FAULT_TESTS = ['test/resource-faults.e2e.test.ts', 'test/alerts.e2e.test.ts', 'test/delivery-faults.e2e.test.ts'];

// Unit tests import sibling packages from source; end-to-end tests in test/ spawn the built bins
// (`npm test` builds first), so they exercise exactly what a user runs.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@tidemark\/shared\/testing$/, replacement: src('./shared/src/testing/index.ts') },
      { find: /^@tidemark\/shared\/config$/, replacement: src('./shared/src/config/index.ts') },
      { find: /^@tidemark\/(proto|shared|edge|cloud)$/, replacement: src('./$1/src/index.ts') },
    ],
  },
  test: {
    // Two workers (the CI machine has 2 cores; vitest's default here would be 1). Group 0 runs first, two files
    // at a time: the unit tests and the long fault tests that mostly wait out an outage (a 60 s database stop,
    // a webhook down for 2 minutes) and so cost little CPU. Group 1 then runs the other end-to-end tests one
    // file at a time, since they drive real processes hard and time what they see.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['{proto,shared,edge,cloud}/src/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: { name: 'faults', include: FAULT_TESTS, testTimeout: 400_000, hookTimeout: 60_000, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: FAULT_TESTS,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
