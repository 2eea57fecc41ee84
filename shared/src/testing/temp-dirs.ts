// Temporary directories for tests, tracked so the reaper can delete them after a pass and keep them
// (and print where they are) after a failure.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

interface TrackedDir {
  seq: number;
  path: string;
}

let nextSeq = 1;
const tracked = new Set<TrackedDir>();

/** Creates a fresh directory under os.tmpdir() and tracks it for cleanup. */
export async function makeTempDir(prefix = 'tidemark-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tracked.add({ seq: nextSeq++, path: dir });
  return dir;
}

/** Deletes every tracked directory (recursively) and forgets it. */
export async function removeTempDirs(): Promise<void> {
  await removeDirs(trackedDirs());
}

// ---- access for the reaper hooks (not part of the public index) ----

export function tempDirMark(): number {
  return nextSeq;
}

/** Paths of tracked directories created at or after `sinceMark`. */
export function trackedDirs(sinceMark = 0): string[] {
  return [...tracked].filter((d) => d.seq >= sinceMark).map((d) => d.path);
}

export async function removeDirs(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => fs.rm(p, { recursive: true, force: true, maxRetries: 3 })));
  forgetDirs(paths);
}

/** Stops tracking directories without deleting them (kept after a failure). */
export function forgetDirs(paths: readonly string[]): void {
  for (const d of [...tracked]) if (paths.includes(d.path)) tracked.delete(d);
}
