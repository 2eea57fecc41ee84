import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { PortPoller, type WaitReadable } from './port-poller.js';

requireTool('socat', 'socat');
useProcessReaper();

describe('PortPoller on a pty', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  async function setup(intervalMs: number) {
    const pty = await openPtyPair();
    const fd = fs.openSync(pty.a, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
    const chunks: string[] = [];
    const lost: string[] = [];
    const poller = new PortPoller(fd, intervalMs, { data: (c) => chunks.push(c.toString()), lost: (why) => lost.push(why) });
    cleanup.push(() => {
      poller.stop();
      fs.closeSync(fd);
    });
    return { pty, poller, chunks, lost };
  }

  /** As the serial source reads a port: opened by serialport's binding, whose fd poll watch wakes the poller. */
  async function setupWithWatch(intervalMs: number) {
    const pty = await openPtyPair();
    const { LinuxBinding } = await import('@serialport/bindings-cpp');
    const port = await LinuxBinding.open({ path: pty.a, baudRate: 115200 });
    const watch = (port as unknown as { poller: { once(e: 'readable', cb: (err: Error | null) => void): void; removeListener(e: 'readable', cb: (err: Error | null) => void): void } }).poller;
    let waits = 0;
    const waitReadable: WaitReadable = (cb) => {
      waits++;
      watch.once('readable', cb);
      return () => watch.removeListener('readable', cb);
    };
    const chunks: string[] = [];
    const lost: string[] = [];
    const poller = new PortPoller(port.fd!, intervalMs, { data: (c) => chunks.push(c.toString()), lost: (why) => lost.push(why) }, waitReadable);
    cleanup.push(() => {
      poller.stop();
      void port.close().catch(() => undefined);
    });
    return { pty, poller, chunks, lost, waits: () => waits };
  }

  it('drains what arrived between ticks in one read, and reads nothing once stopped', async () => {
    const { pty, poller, chunks } = await setup(200);
    const out = fs.openSync(pty.b, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
    cleanup.push(() => fs.closeSync(out));
    poller.start();
    for (let i = 0; i < 20; i++) fs.writeSync(out, `${i}\n`); // well inside one 200 ms interval
    await waitFor(() => chunks.join('').split('\n').length > 20, { description: '20 lines' });
    expect(chunks.join('')).toBe(Array.from({ length: 20 }, (_, i) => `${i}\n`).join(''));
    expect(chunks.length).toBeLessThanOrEqual(2); // one tick (two if the writes straddled one)
    poller.stop();
    fs.writeSync(out, 'late\n');
    await new Promise((r) => setTimeout(r, 450)); // two intervals: proving a read does NOT happen needs a pause
    expect(chunks.join('')).not.toContain('late');
  });

  it('sleeps while the port is quiet, reads bytes when they arrive, and sleeps again after a quiet tick', async () => {
    const { pty, poller, chunks, waits } = await setupWithWatch(20);
    const out = fs.openSync(pty.b, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
    cleanup.push(() => fs.closeSync(out));
    poller.start();
    expect(poller.sleeping, 'the first read is a tick away').toBe(false);
    await waitFor(() => poller.sleeping, { description: 'a tick found nothing and the poller sleeps' });
    fs.writeSync(out, 'a\n');
    await waitFor(() => chunks.join('') === 'a\n', { description: 'the line read' });
    await waitFor(() => poller.sleeping && waits() >= 2, { description: 'asleep again after a quiet tick' });
    fs.writeSync(out, 'b\n');
    await waitFor(() => chunks.join('') === 'a\nb\n', { description: 'the second line read' });
    poller.stop();
    expect(poller.sleeping).toBe(false);
  });

  it('reports a port that hangs up while the poller sleeps', async () => {
    const { pty, poller, lost } = await setupWithWatch(20);
    poller.start();
    await waitFor(() => poller.sleeping, { description: 'asleep' });
    await pty.close();
    await waitFor(() => lost.length > 0, { description: 'the loss reported' });
    expect(lost).toHaveLength(1);
    expect(poller.sleeping).toBe(false);
  });

  it('reports the port lost when the other end goes away, and stops', async () => {
    const { pty, poller, lost } = await setup(10);
    poller.start();
    await pty.close();
    await waitFor(() => lost.length > 0, { description: 'the loss reported' });
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/EIO|hung up/);
  });

  /** A poller whose port watch never fires (only a tick or readNow reads), and counts of its waits. */
  async function setupQuietWatch(intervalMs: number) {
    const pty = await openPtyPair();
    const fd = fs.openSync(pty.a, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
    const counts = { waits: 0, cancels: 0 };
    const waitReadable: WaitReadable = () => {
      counts.waits++;
      return () => counts.cancels++;
    };
    const chunks: string[] = [];
    const poller = new PortPoller(fd, intervalMs, { data: (c) => chunks.push(c.toString()), lost: () => undefined }, waitReadable);
    const out = fs.openSync(pty.b, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
    cleanup.push(() => {
      poller.stop();
      fs.closeSync(fd);
      fs.closeSync(out);
    });
    return { poller, chunks, counts, out };
  }

  it('readNow reads what arrived at once, between ticks, and an empty one does not put the poller to sleep', async () => {
    const { poller, chunks, counts, out } = await setupQuietWatch(60_000); // no tick comes during the test
    poller.start();
    fs.writeSync(out, 'a\n');
    // The pty hands the bytes over a moment after the write: read again until they are there.
    await waitFor(() => {
      poller.readNow();
      return chunks.join('') === 'a\n';
    }, { description: 'the line read by readNow' });
    poller.readNow(); // nothing more: reads nothing twice, and (unlike an empty tick) does not sleep
    expect(chunks.join('')).toBe('a\n');
    expect(poller.sleeping).toBe(false);
    expect(counts.waits).toBe(0);
    poller.stop();
    fs.writeSync(out, 'late\n');
    poller.readNow(); // stopped: does nothing
    expect(chunks.join('')).toBe('a\n');
  });

  it('readNow while asleep reads what arrived and starts the timer, as the port waking it would', async () => {
    const { poller, chunks, counts, out } = await setupQuietWatch(10);
    poller.start();
    await waitFor(() => poller.sleeping, { description: 'a quiet tick put the poller to sleep' });
    poller.readNow(); // quiet: stays asleep, the wait kept
    expect(poller.sleeping).toBe(true);
    expect(counts.cancels).toBe(0);
    fs.writeSync(out, 'b\n');
    await waitFor(() => {
      poller.readNow();
      return chunks.join('') === 'b\n';
    }, { description: 'the line read by readNow' });
    expect(poller.sleeping).toBe(false);
    expect(counts.cancels).toBe(1); // the wait was given up: the timer reads from now on
    await waitFor(() => counts.waits >= 2, { description: 'the timer ticks, finds nothing, and sleeps again' });
  });
});
