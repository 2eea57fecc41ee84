// A real full disk for fault tests: a small tmpfs mounted over a directory (root, or passwordless sudo as on
// CI runners), filled to the last byte by a filler file and freed by deleting it. A test that cannot mount
// fails, naming what it needs: a fault test must never pass by skipping its fault.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Fills every free byte (a filler file written until ENOSPC); returns the bytes taken. */
  fill(): number;
  /** Deletes the filler: the space is back at once. */
  free(): void;
  /** Bytes free now. */
  freeBytes(): number;
  unmount(): void;
}

function asRoot(args: string[]): { status: number | null; stderr: string } {
  const cmd = process.getuid?.() === 0 ? args : ['sudo', '-n', ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr ?? String(r.error) };
}

/** Mounts a tmpfs of `sizeBytes` on `dir` (created if missing). */
export function mountSmallDisk(dir: string, sizeBytes: number): SmallDisk {
  mkdirSync(dir, { recursive: true });
  const r = asRoot(['mount', '-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0777`, 'tidemark-small-disk', dir]);
  if (r.status !== 0) {
    throw new Error(`cannot mount a ${sizeBytes}-byte tmpfs on ${dir} (${r.stderr.trim()}): the disk-full fault test needs root or passwordless sudo`);
  }
  const filler = join(dir, 'filler.bin');
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'w');
      let taken = 0;
      try {
        for (const chunk of [Buffer.alloc(1 << 20), Buffer.alloc(4096), Buffer.alloc(1)]) {
          for (;;) {
            try {
              taken += writeSync(fd, chunk);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return taken;
    },
    free() {
      rmSync(filler, { force: true });
    },
    freeBytes() {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    unmount() {
      if (!mounted) return;
      // Lazy: a process of the test that still holds a file open must not keep the mount (or the test) alive.
      const u = asRoot(['umount', '-l', dir]);
      if (u.status !== 0) throw new Error(`umount ${dir} failed: ${u.stderr.trim()}`);
      mounted = false;
    },
  };
}
