// USB serial adapters get /dev/ttyUSB0, 1 … in enumeration order, which changes on replug or reboot;
// /dev/serial/by-id/ names the same device stably. This finds the stable name of a configured tty path.
import fs from 'node:fs';
import path from 'node:path';

export const BY_ID_DIR = '/dev/serial/by-id';

/** The by-id link that points at `devicePath` when `devicePath` is an enumeration-order name; else undefined. */
export function stablePathFor(devicePath: string, byIdDir: string = BY_ID_DIR): string | undefined {
  if (!/^tty(?:USB|ACM)\d+$/.test(path.basename(devicePath))) return undefined;
  try {
    const target = fs.realpathSync(devicePath);
    for (const entry of fs.readdirSync(byIdDir)) {
      const link = path.join(byIdDir, entry);
      if (fs.realpathSync(link) === target) return link;
    }
  } catch {
    // No such device or no by-id directory (nothing plugged in, or not Linux): nothing to suggest.
  }
  return undefined;
}
