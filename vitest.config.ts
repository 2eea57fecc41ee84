import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

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
    projects: [
      { extends: true, test: { name: 'unit', include: ['{proto,shared,edge,cloud}/src/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 60_000, fileParallelism: false },
      },
    ],
  },
});
