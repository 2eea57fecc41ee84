// The generated code is committed; this proves it is what scripts/gen.js makes from the .proto today, and
// that it loads in plain Node ESM (not just through vitest's resolver).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PKG = fileURLToPath(new URL('..', import.meta.url));
const GEN = join(PKG, 'src', 'gen');

describe('generated code', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tidemark-proto-gen-test-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('is up to date with tidemark/v1/telemetry.proto (run `npm run proto:gen` if not)', async () => {
    await run(process.execPath, [join(PKG, 'scripts', 'gen.js'), '--out', tmp], { cwd: PKG, timeout: 60_000 });
    const fresh = readdirSync(tmp).sort();
    expect(fresh).toEqual(['telemetry-types.ts', 'telemetry.d.ts', 'telemetry.js']);
    expect(readdirSync(GEN).sort()).toEqual(fresh);
    for (const f of fresh) {
      expect(readFileSync(join(GEN, f), 'utf8'), `src/gen/${f} is stale`).toBe(readFileSync(join(tmp, f), 'utf8'));
    }
  }, 60_000);

  it('loads in plain Node ESM', async () => {
    const script = `import { tidemark } from ${JSON.stringify(join(GEN, 'telemetry.js'))};
      const b = tidemark.v1.Batch.decode(tidemark.v1.Batch.encode({ deviceId: 'd', seq: 7 }).finish());
      process.stdout.write(b.deviceId + ':' + String(b.seq));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: PKG, timeout: 30_000 });
    expect(stdout).toBe('d:7');
  }, 30_000);
});
