#!/usr/bin/env node
// Thin launcher: the CLI lives in src/cli.ts and is compiled to dist/ by `npm run build` (run by npm ci's prepare).
import { main } from '../dist/cli.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
