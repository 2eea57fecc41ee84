import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, useProcessReaper } from '@tidemark/shared/testing';
import { stablePathFor } from './stable-path.js';

useProcessReaper();

describe('stablePathFor', () => {
  it('finds the by-id link of an enumeration-order tty', async () => {
    const dir = await makeTempDir();
    // Stand-ins: a by-id directory whose link points at a file we pretend is /dev/ttyUSB0.
    const byId = path.join(dir, 'by-id');
    fs.mkdirSync(byId);
    const tty = path.join(dir, 'ttyUSB0');
    fs.writeFileSync(tty, '');
    fs.symlinkSync(tty, path.join(byId, 'usb-FTDI_FT232R-if00-port0'));
    expect(stablePathFor(tty, byId)).toBe(path.join(byId, 'usb-FTDI_FT232R-if00-port0'));
    const other = path.join(dir, 'ttyACM1');
    fs.writeFileSync(other, '');
    expect(stablePathFor(other, byId)).toBeUndefined(); // no link resolves to it
  });

  it('says nothing for stable paths or without a by-id directory', () => {
    expect(stablePathFor('/dev/serial/by-id/usb-FTDI-if00-port0')).toBeUndefined();
    expect(stablePathFor('/dev/ttyAMA0')).toBeUndefined();
    expect(stablePathFor('/dev/ttyUSB7', '/nonexistent/by-id')).toBeUndefined();
  });
});
