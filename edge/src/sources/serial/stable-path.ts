// USB serial adapters get /dev/ttyUSB0, 1 … in enumeration order, which changes on replug or reboot;
// /dev/serial/by-id/ names the same device stably. This finds the stable name of a configured tty path.
import fs from 'node:fs';
import path from 'node:path';

export const BY_ID_DIR = '/dev/serial/by-id';

/** The by-id link that points at `devicePath` when `devicePath` is an enumeration-order name; else undefined. */
export function stablePathFor(devicePath: string, byIdDir: string = BY_ID_DIR): string | undefined {
  if (!/^\/dev\/tty(?:USB|ACM)\d+$/.test(devicePath)) return undefined;
  try {
    for (const entry of fs.readdirSync(byIdDir)) {
      const link = path.join(byIdDir, entry);
      if (fs.realpathSync(link) === devicePath) return link;
    }
  } catch {
    // No by-id directory (no USB serial devices plugged in, or not Linux): nothing to suggest.
  }
  return undefined;
}
