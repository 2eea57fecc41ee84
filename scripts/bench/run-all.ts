// `npm run bench`: runs every scripts/bench/*.bench.ts in its own process, one after another (2 cores:
// benchmarks must not compete), passing their JSON lines through. `npm run bench -- wire` runs only the
// benchmarks whose file name contains "wire".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${filter ?? '*'} in ${here}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.error(`# ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`# ${f} failed with exit ${r.status ?? r.signal}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
