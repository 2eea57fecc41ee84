import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTool, requireTool } from './require-tool.js';

describe('requireTool', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('returns the absolute path of a tool on PATH', () => {
    const sh = requireTool('sh', 'dash');
    expect(path.isAbsolute(sh)).toBe(true);
    expect(path.basename(sh)).toBe('sh');
  });

  it('also searches the sbin directories, which are not on a normal PATH', () => {
    // ldconfig (libc-bin, essential on Debian) lives in /usr/sbin or /sbin.
    expect(findTool('ldconfig', '/nonexistent')).toMatch(/^\/(usr\/(local\/)?)?sbin\/ldconfig$/);
  });

  it('fails loudly, naming the Debian package and the install script', () => {
    expect(() => requireTool('tidemark-no-such-tool', 'tidemark-pkg')).toThrow(
      'required tool "tidemark-no-such-tool" not found: install the Debian package "tidemark-pkg" (run scripts/install-system-deps.sh)',
    );
  });

  it('skips files that are not executable and finds later ones that are', async () => {
    const first = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-rt-'));
    const second = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-rt-'));
    dirs.push(first, second);
    await fs.writeFile(path.join(first, 'tool-x'), '#!/bin/sh\n', { mode: 0o644 });
    await fs.writeFile(path.join(second, 'tool-x'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.mkdir(path.join(first, 'tool-y'));
    expect(findTool('tool-x', `${first}${path.delimiter}${second}`)).toBe(path.join(second, 'tool-x'));
    expect(findTool('tool-y', first)).toBeUndefined();
    expect(findTool(path.join(second, 'tool-x'))).toBe(path.join(second, 'tool-x'));
    expect(findTool(path.join(first, 'tool-x'))).toBeUndefined();
  });
});
