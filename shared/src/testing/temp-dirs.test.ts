import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs } from './temp-dirs.js';

describe('makeTempDir / removeTempDirs', () => {
  it('creates distinct directories under os.tmpdir() and removes all tracked ones recursively', async () => {
    const a = await makeTempDir();
    const b = await makeTempDir('tidemark-custom-');
    expect(a).not.toBe(b);
    expect(path.dirname(a)).toBe(os.tmpdir());
    expect(path.basename(a)).toMatch(/^tidemark-/);
    expect(path.basename(b)).toMatch(/^tidemark-custom-/);
    fs.mkdirSync(path.join(a, 'nested', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(a, 'nested', 'deeper', 'file'), 'x');

    await removeTempDirs();
    expect(fs.existsSync(a)).toBe(false);
    expect(fs.existsSync(b)).toBe(false);
    await removeTempDirs(); // nothing left to do
  });
});
