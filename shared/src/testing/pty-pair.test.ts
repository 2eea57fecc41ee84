import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { afterEach, describe, expect, it } from 'vitest';
import { useProcessReaper } from './process-reaper.js';
import { openPtyAtPath, openPtyPair } from './pty-pair.js';
import { requireTool } from './require-tool.js';
import { makeTempDir } from './temp-dirs.js';
import { waitFor } from './wait-for.js';

requireTool('socat', 'socat');
useProcessReaper();

// Every byte value that a cooked tty would mangle: CR/LF translation, ^C, ^D, ^S, DEL, NUL, 0xFF.
const PAYLOAD = Buffer.from([0x00, 0x01, 0x03, 0x04, 0x0a, 0x0d, 0x11, 0x13, 0x1a, 0x7f, 0x80, 0xff, ...Buffer.from('$GPGGA,12*3F\r\n')]);

const readers: tty.ReadStream[] = [];
afterEach(() => {
  for (const r of readers.splice(0)) r.destroy();
});

/** Opens a pty end for reading through libuv (a plain fs read on a tty would block a thread-pool thread). */
function openReader(device: string): { received(): Buffer } {
  const fd = fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  const stream = new tty.ReadStream(fd);
  readers.push(stream);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('error', () => {}); // EIO once socat closes the other side
  return { received: () => Buffer.concat(chunks) };
}

describe('openPtyPair', { timeout: 20_000 }, () => {
  it('connects two pseudo-terminals: raw bytes written to a come out of b', async () => {
    const pty = await openPtyPair();
    expect(pty.a).toMatch(/^\/dev\/pts\/\d+$/);
    expect(pty.b).toMatch(/^\/dev\/pts\/\d+$/);
    expect(pty.a).not.toBe(pty.b);

    const reader = openReader(pty.b);
    await fs.promises.writeFile(pty.a, PAYLOAD);
    await fs.promises.writeFile(pty.a, 'second write\n'); // socat survives the writer closing its end
    const expected = Buffer.concat([PAYLOAD, Buffer.from('second write\n')]);
    await waitFor(() => reader.received().length >= expected.length, { timeoutMs: 5_000, description: 'bytes on end b' });
    expect(reader.received()).toEqual(expected);

    await pty.close();
    expect(pty.process.running).toBe(false);
    await pty.close(); // idempotent
  });
});

describe('openPtyAtPath', { timeout: 20_000 }, () => {
  it('puts the device at a stable path that vanishes on close and reappears on reopen', async () => {
    const dir = await makeTempDir();
    const devicePath = path.join(dir, 'usb-Tidemark_Sensor_0001-if00');

    const first = await openPtyAtPath(devicePath);
    expect(first.device).toBe(devicePath);
    expect(first.peer).toBe(`${devicePath}.peer`);
    expect(fs.readlinkSync(first.device)).toMatch(/^\/dev\/pts\/\d+$/);

    // The test plays the device on the peer; the code under test reads the stable path.
    const reader = openReader(first.device);
    await fs.promises.writeFile(first.peer, PAYLOAD);
    await waitFor(() => reader.received().length >= PAYLOAD.length, { timeoutMs: 5_000, description: 'bytes on the device' });
    expect(reader.received()).toEqual(PAYLOAD);

    await first.close();
    expect(fs.existsSync(devicePath)).toBe(false);
    expect(fs.existsSync(first.peer)).toBe(false);

    const second = await openPtyAtPath(devicePath);
    expect(fs.readlinkSync(devicePath)).toMatch(/^\/dev\/pts\/\d+$/);

    // An abrupt death (SIGKILL: socat cannot clean up) also makes the device disappear.
    await second.process.sigkill();
    expect(fs.lstatSync(devicePath, { throwIfNoEntry: false })).toBeUndefined();
    expect(fs.lstatSync(second.peer, { throwIfNoEntry: false })).toBeUndefined();
  });

  it('accepts an explicit peer path', async () => {
    const dir = await makeTempDir();
    const pty = await openPtyAtPath(path.join(dir, 'ttyDEV'), path.join(dir, 'ttyTEST'));
    expect(pty.peer).toBe(path.join(dir, 'ttyTEST'));
    expect(fs.readlinkSync(pty.peer)).toMatch(/^\/dev\/pts\/\d+$/);
    await pty.close();
  });
});
