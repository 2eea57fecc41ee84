// Who spent a process's CPU, from a V8 CPU profile (`node --cpu-prof`): every sample is charged to the
// strongest part on its stack (parts are source path fragments with a rank), the outermost frame among equals.
// So the alert evaluator's calls into shared code (bucket statistics, the batch decoder) count as the
// evaluator's, while the stream consumer loop that calls both the evaluator and the aggregator (a weaker part)
// keeps only what it does itself (reading the stream). GC samples are reported apart, idle ones left out;
// percentages are of all busy samples.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}

export interface Part {
  name: string;
  /** Path fragments (e.g. "/cloud/src/alerts/"), matched against a frame's url; the first part matching wins. */
  paths: string[];
  /** A frame of a part with a higher rank takes its samples from a lower-ranked caller (default 1). */
  rank?: number;
}

export interface Attribution {
  /** Share of busy samples per part (and `other`, `gc`), %. */
  shares: Record<string, number>;
  /** Per part, its functions with the most self time, % of all busy samples. */
  hot: Record<string, { fn: string; pct: number }[]>;
}

export function attribute(profile: { nodes: ProfileNode[] }, parts: readonly Part[], topPerPart = 8): Attribution {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fnHits = new Map<string, Map<string, number>>();
  const hits: Record<string, number> = { other: 0, idle: 0, gc: 0 };
  for (const p of parts) hits[p.name] = 0;
  const partOf = (url: string): Part | undefined => parts.find((p) => p.paths.some((x) => url.includes(x)));
  const root = profile.nodes[0]!;
  const stack: [ProfileNode, Part | undefined][] = [[root, undefined]];
  while (stack.length > 0) {
    const [node, inherited] = stack.pop()!;
    const here = partOf(node.callFrame.url);
    const ownPart = here && (!inherited || (here.rank ?? 1) > (inherited.rank ?? 1)) ? here : inherited;
    const own = ownPart?.name;
    const h = node.hitCount ?? 0;
    if (h > 0) {
      const fn = node.callFrame.functionName;
      const key = fn === '(idle)' ? 'idle' : fn === '(garbage collector)' ? 'gc' : (own ?? 'other');
      hits[key] = (hits[key] ?? 0) + h;
      const fnKey = `${fn || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(cloud|proto|shared|node_modules)\//, '$1/')}`;
      const m = fnHits.get(key) ?? new Map<string, number>();
      m.set(fnKey, (m.get(fnKey) ?? 0) + h);
      fnHits.set(key, m);
    }
    for (const c of node.children ?? []) stack.push([byId.get(c)!, ownPart]);
  }
  const busy = Math.max(1, Object.entries(hits).reduce((a, [k, v]) => (k === 'idle' ? a : a + v), 0));
  const pct = (v: number) => Math.round((1000 * v) / busy) / 10;
  const shares = Object.fromEntries(Object.entries(hits).filter(([k]) => k !== 'idle').map(([k, v]) => [k, pct(v)]));
  const hot: Attribution['hot'] = {};
  for (const [part, m] of fnHits) {
    if (part === 'idle' || part === 'gc') continue;
    hot[part] = [...m].sort((a, b) => b[1] - a[1]).slice(0, topPerPart).map(([fn, v]) => ({ fn, pct: pct(v) }));
  }
  return { shares, hot };
}

/** The newest .cpuprofile in `dir`. */
export function readProfile(dir: string): { nodes: ProfileNode[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return JSON.parse(readFileSync(join(dir, files[files.length - 1]!), 'utf8')) as { nodes: ProfileNode[] };
}
