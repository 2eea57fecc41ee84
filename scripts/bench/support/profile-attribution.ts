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

export function attribute(profile: { nodes: ProfileNode[] }, parts: readonly Part[]): Record<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
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
    }
    for (const c of node.children ?? []) stack.push([byId.get(c)!, ownPart]);
  }
  const busy = Object.entries(hits).reduce((a, [k, v]) => (k === 'idle' ? a : a + v), 0);
  return Object.fromEntries(Object.entries(hits).filter(([k]) => k !== 'idle').map(([k, v]) => [k, Math.round((1000 * v) / Math.max(1, busy)) / 10]));
}

/** The newest .cpuprofile in `dir`. */
export function readProfile(dir: string): { nodes: ProfileNode[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return JSON.parse(readFileSync(join(dir, files[files.length - 1]!), 'utf8')) as { nodes: ProfileNode[] };
}
