// Builds the operators' console (served at `/` by the API) into cloud/console-dist. Hashed file names under
// assets/ let the server cache them for a year; index.html is revalidated on every load. Everything is
// bundled: no CDN, no web fonts, nothing fetched from outside the serving process.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

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
});
