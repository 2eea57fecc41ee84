import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedSourceConfig } from '../config.js';
import { SourceSet } from './source-set.js';
import type { Source } from './source.js';

const logger = createLogger({ name: 'source-set-test', level: 'silent' });
const sim = (name: string, rate_hz = 1): SimulatedSourceConfig => ({
  type: 'simulated',
  name,
  rate_hz,
  sensors: [{ name: `${name}_t`, shape: 'sine', min: 0, max: 1, period_s: 60, decimals: 2 }],
});

let set: SourceSet | undefined;
afterEach(async () => {
  await set?.stopAll();
});

function makeSet() {
  const metrics = new MetricsRegistry('tidemark_edge');
  set = new SourceSet(() => ({ sink: () => undefined, logger, metrics, now: Date.now }), logger);
  return set;
}

describe('SourceSet', () => {
  it('keeps unchanged sources running as they are, restarts changed ones, stops removed ones, starts new ones', async () => {
    const s = makeSet();
    s.create([sim('a'), sim('b'), sim('c')]);
    await s.startAll();
    const [a, b] = s.sources;
    const changes = await s.apply([sim('a'), sim('b', 5), sim('d')]);
    expect(changes).toEqual({ kept: ['a'], started: ['d'], stopped: ['c'], restarted: ['b'], failed: [] });
    expect(s.sources.map((x) => x.name)).toEqual(['a', 'b', 'd']);
    expect(s.sources[0]).toBe(a); // the same running instance
    expect(s.sources[1]).not.toBe(b);
  });

  it('an identical list changes nothing', async () => {
    const s = makeSet();
    s.create([sim('a')]);
    await s.startAll();
    const before = s.sources[0];
    expect(await s.apply([sim('a')])).toEqual({ kept: ['a'], started: [], stopped: [], restarted: [], failed: [] });
    expect(s.sources[0]).toBe(before);
  });

  it('readNow asks every source that can read on demand, in order, and one that throws does not stop the others', async () => {
    const s = makeSet();
    s.create([sim('a'), sim('b'), sim('c')]);
    const [a, b, c] = s.sources as [Source, Source, Source];
    const calls: string[] = [];
    a.readNow = () => {
      calls.push('a');
      throw new Error('bug');
    };
    // b: a source without readNow (the simulated one has none)
    c.readNow = () => calls.push('c');
    expect(b.readNow).toBeUndefined();
    s.readNow();
    expect(calls).toEqual(['a', 'c']);
  });
});
