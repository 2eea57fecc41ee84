// Stores and temp dirs a test opens, closed and deleted after each test (register closeAll with afterEach).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

interface Closable {
  stop(): Promise<void>;
}

export class TestResources {
  private readonly opened: Closable[] = [];
  private readonly dirs: string[] = [];

  constructor(private readonly prefix: string) {}

  /** Starts `c` and stops it in closeAll() (in reverse order of opening). */
  async started<T extends Closable & { start(): Promise<void> }>(c: T): Promise<T> {
    await c.start();
    this.opened.push(c);
    return c;
  }

  async tempDir(): Promise<string> {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), this.prefix));
    this.dirs.push(d);
    return d;
  }

  readonly closeAll = async (): Promise<void> => {
    for (const c of this.opened.splice(0).reverse()) await c.stop();
    for (const d of this.dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
  };
}
