// Which sensors a transform applies to: a glob (`*` any run of characters, `?` one character) or a list of
// globs, matched against the whole sensor name. Answers are cached per name: a gateway has a few hundred
// sensors at most, and a transform is asked about every reading.

const MAX_CACHED = 10_000;

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** True when `glob` contains a wildcard (so it may match more than one sensor). */
export function isWildcard(glob: string): boolean {
  return glob.includes('*') || glob.includes('?');
}

export type SensorMatcher = (sensor: string) => boolean;

/** A matcher for `sensors` (one glob or several); `*` alone matches everything without a lookup. */
export function sensorMatcher(sensors: string | readonly string[]): SensorMatcher {
  const globs = typeof sensors === 'string' ? [sensors] : sensors;
  if (globs.includes('*')) return () => true;
  if (!globs.some(isWildcard)) {
    const names = new Set(globs);
    return (sensor) => names.has(sensor);
  }
  const res = globs.map(globToRegExp);
  const cache = new Map<string, boolean>();
  return (sensor) => {
    let hit = cache.get(sensor);
    if (hit === undefined) {
      hit = res.some((re) => re.test(sensor));
      // A source inventing endless names must not grow memory: past the bound, stop caching.
      if (cache.size < MAX_CACHED) cache.set(sensor, hit);
    }
    return hit;
  };
}
