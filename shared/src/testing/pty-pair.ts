// Virtual serial ports: socat joins two pseudo-terminals back to back, so bytes written to one end
// come out of the other. The link variant gives the device a stable path (like /dev/serial/by-id/…)
// that vanishes while socat is down, so tests can unplug and replug a "device".

import fs from 'node:fs';
import path from 'node:path';
import { spawnProcess, type ManagedProcess } from './managed-process.js';
import { requireTool } from './require-tool.js';

export interface PtyPair {
  /** /dev/pts/N of one end. */
  a: string;
  /** /dev/pts/M of the other end. */
  b: string;
  process: ManagedProcess;
  /** Stops socat (SIGTERM) and waits for it; idempotent. */
  close(): Promise<void>;
}

export interface PtyLink {
  /** The stable path the code under test opens (a symlink to a /dev/pts/N while socat runs). */
  device: string;
  /** Symlink to the other end: the test plays the device here. */
  peer: string;
  process: ManagedProcess;
  /** Stops socat and waits until both links are gone; idempotent. */
  close(): Promise<void>;
}

const READY = /PTY is (\/\S+)[\s\S]*PTY is (\/\S+)[\s\S]*starting data transfer loop/;

/** Two connected pseudo-terminals in raw mode, no echo. */
export async function openPtyPair(): Promise<PtyPair> {
  const { process: proc, ptys } = await startSocat(['pty,raw,echo=0', 'pty,raw,echo=0'], 'socat-pty');
  return { a: ptys[0], b: ptys[1], process: proc, close: () => stop(proc) };
}

/**
 * A pty pair whose ends appear as symlinks at `linkPath` (the device) and `peerPath` (default
 * `<linkPath>.peer`). After close() or any death of socat both paths are gone; call again with the same
 * paths to make the device reappear.
 */
export async function openPtyAtPath(linkPath: string, peerPath = `${linkPath}.peer`): Promise<PtyLink> {
  const device = path.resolve(linkPath);
  const peer = path.resolve(peerPath);
  const { process: proc, ptys } = await startSocat(
    [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`],
    `socat-pty-${path.basename(device)}`,
  );
  // socat unlinks on SIGTERM but not on SIGKILL; a dangling link could later point at someone else's pty.
  // Registered before any caller can await exit, so the links are gone by the time `exited` resolves for them.
  void proc.exited.then(() => {
    removeLinkIfTarget(device, ptys[0]);
    removeLinkIfTarget(peer, ptys[1]);
  });
  return { device, peer, process: proc, close: () => stop(proc) };
}

async function startSocat(addresses: [string, string], name: string): Promise<{ process: ManagedProcess; ptys: [string, string] }> {
  const socat = requireTool('socat', 'socat');
  const proc = spawnProcess(socat, ['-d', '-d', ...addresses], { name });
  try {
    const match = await proc.waitForOutput(READY);
    if (typeof match === 'string' || match[1] === undefined || match[2] === undefined) throw new Error('unreachable');
    return { process: proc, ptys: [match[1], match[2]] };
  } catch (err) {
    await proc.sigkill();
    throw err;
  }
}

async function stop(proc: ManagedProcess): Promise<void> {
  await proc.kill('SIGTERM');
}

function removeLinkIfTarget(link: string, target: string): void {
  try {
    if (fs.readlinkSync(link) === target) fs.unlinkSync(link);
  } catch {
    // Already removed (socat cleans up after itself on SIGTERM).
  }
}
