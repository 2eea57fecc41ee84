import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { makeTempDir, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { DeviceWatch } from './device-watch.js';

useProcessReaper();

describe('DeviceWatch', () => {
  it('reports a device path that disappears, once', async () => {
    const dir = await makeTempDir();
    const device = path.join(dir, 'ttyUSB0');
    fs.writeFileSync(device, '');
    const gone: string[] = [];
    const watch = new DeviceWatch(device, (why) => gone.push(why), 10);
    await watch.start();
    fs.unlinkSync(device);
    await waitFor(() => gone.length > 0, { description: 'gone reported' });
    fs.writeFileSync(device, '');
    fs.unlinkSync(device);
    expect(gone).toEqual(['device path disappeared']);
    watch.stop();
  });

  it('reports a path that now names another device (a fast replug)', async () => {
    const dir = await makeTempDir();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, '');
    fs.writeFileSync(b, '');
    const link = path.join(dir, 'usb-Sensor-if00');
    fs.symlinkSync(a, link);
    const gone: string[] = [];
    const watch = new DeviceWatch(link, (why) => gone.push(why), 10);
    await watch.start();
    fs.unlinkSync(link);
    fs.symlinkSync(b, link);
    await waitFor(() => gone.length > 0, { description: 'change reported' });
    expect(gone).toEqual(['device path now names another device']);
  });

  it('reports at once when the path is already gone, and is silent after stop', async () => {
    const dir = await makeTempDir();
    const gone: string[] = [];
    await new DeviceWatch(path.join(dir, 'nothing'), (why) => gone.push(why), 10).start();
    expect(gone).toEqual(['device path disappeared']);

    const device = path.join(dir, 'ttyACM0');
    fs.writeFileSync(device, '');
    const quiet: string[] = [];
    const watch = new DeviceWatch(device, (why) => quiet.push(why), 10);
    const starting = watch.start();
    watch.stop(); // cancels a start still waiting for its first check
    await starting;
    expect(watch.watching).toBe(false);
    expect(quiet).toEqual([]);
  });

  it('checks on a read only once half an interval passed since the last check, and then reports at once', async () => {
    const dir = await makeTempDir();
    const device = path.join(dir, 'ttyUSB1');
    fs.writeFileSync(device, '');
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    try {
      const gone: string[] = [];
      const watch = new DeviceWatch(device, (why) => gone.push(why), 200);
      await watch.start();
      fs.unlinkSync(device);
      vi.advanceTimersByTime(99);
      watch.checkIfDue(); // 99 ms after the start's check: not due, no stat
      expect(gone).toEqual([]);
      vi.advanceTimersByTime(1);
      watch.checkIfDue(); // 100 ms: due, and the timer (200 ms) has not fired
      expect(gone).toEqual(['device path disappeared']);
      expect(watch.watching).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a check made on a read pushes the timer out: the next timed check is a whole interval later', async () => {
    const dir = await makeTempDir();
    const device = path.join(dir, 'ttyUSB2');
    fs.writeFileSync(device, '');
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    try {
      const gone: string[] = [];
      const watch = new DeviceWatch(device, (why) => gone.push(why), 200);
      await watch.start();
      vi.advanceTimersByTime(150);
      watch.checkIfDue(); // due (150 ≥ 100): checks (the device is there) and restarts the interval from here
      expect(gone).toEqual([]);
      fs.unlinkSync(device);
      vi.advanceTimersByTime(199); // 349 ms: the timer started at 0 would have fired at 200
      expect(gone).toEqual([]);
      vi.advanceTimersByTime(1); // 350 = 150 + 200
      expect(gone).toEqual(['device path disappeared']);
    } finally {
      vi.useRealTimers();
    }
  });
});
