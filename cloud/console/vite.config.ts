// Builds the operators' console (served at `/` by the API) into cloud/console-dist. Hashed file names under
// assets/ let the server cache them for a year; index.html is revalidated on every load. Everything is
// bundled: no CDN, no web fonts, nothing fetched from outside the serving process.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The chart views' chunk (uPlot) is loaded only to be used at once: V8's explicit compile hint makes Chromium
 * compile all of it while the chunk loads (off the main thread when streamed) instead of function by function
 * during the first draw. https://v8.dev/blog/explicit-compile-hints
 */
function compileHint(): Plugin {
  const hinted = (chunk: { isEntry: boolean; moduleIds: readonly string[] }) => !chunk.isEntry && chunk.moduleIds.some((id) => id.includes('/uplot/'));
  return {
    name: 'tidemark-compile-hint',
    // The comment is added to the written file (minification would drop it earlier); the file name's hash
    // still covers it.
    augmentChunkHash: (chunk) => (hinted(chunk) ? 'allFunctionsCalledOnLoad' : undefined),
    generateBundle(_opts, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type === 'chunk' && hinted(chunk)) chunk.code = `//# allFunctionsCalledOnLoad\n${chunk.code}`;
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../console-dist', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Everything inline-able stays a file: the CSP forbids nothing but keeps things simple to cache.
    assetsInlineLimit: 0,
  },
  plugins: [compileHint()],
});
