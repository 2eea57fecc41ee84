// Finds a system executable a test depends on, or fails loudly with the package that provides it:
// a missing tool must turn CI red, never quietly skip the tests that need it.

import fs from 'node:fs';
import path from 'node:path';

/** Debian installs daemons (mosquitto, nats-server) outside a normal user's PATH. */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of `tool`, searched in PATH plus the sbin directories; throws naming the Debian package. */
export function requireTool(tool: string, debianPackage: string): string {
  const found = findTool(tool);
  if (found) return found;
  throw new Error(
    `required tool ${JSON.stringify(tool)} not found: install the Debian package ${JSON.stringify(debianPackage)} (run scripts/install-system-deps.sh)`,
  );
}

/** Like requireTool, but undefined when missing. */
export function findTool(tool: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  if (tool.includes('/')) return isExecutableFile(tool) ? path.resolve(tool) : undefined;
  const dirs = [...searchPath.split(path.delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.resolve(dir, tool);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
