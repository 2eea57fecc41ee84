// Turns zod issues into short, human ConfigIssues: `sources[0].baud_rate: expected a positive integer`.
// One issue per unknown key (at the key's own path, with a "did you mean" when a known key is close).

import type { z } from 'zod';
import type { ConfigIssue } from '../errors/index.js';

export type PathSegment = string | number;

/** `['sources', 0, 'baud_rate']` → `sources[0].baud_rate`; odd keys are quoted: `a["x.y"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** A short description of a YAML value for messages: `"fast"`, `12`, `a list`, `an empty value`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'an empty value';
  if (typeof v === 'string') {
    const shown = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return `"${shown}"`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'an empty value',
};

function got(input: unknown, expected?: string): string {
  const base = `got ${describeValue(input)}`;
  if ((expected === 'number' || expected === 'int') && typeof input === 'string' && /^\s*[-+]?[\d.]+\s*$/.test(input)) {
    return `${base} (a quoted string; remove the quotes)`;
  }
  if (expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
    return `${base} (quote it to make it a string)`;
  }
  return base;
}

/**
 * Builds a zod `error` option that gives every issue of a schema one message, e.g.
 * `z.number({ error: expecting('expected a positive integer') })`. A missing value says `required`, and a
 * value of the wrong type says what it got.
 */
export function expecting(message: string): (iss: z.core.$ZodRawIssue) => string {
  return (iss) => {
    if (iss.input === undefined) return 'required';
    if (iss.code === 'invalid_type') return `${message}, ${got(iss.input, iss.expected)}`;
    if (iss.code === 'invalid_union') return `${message}, ${got(iss.input)}`;
    return message;
  };
}

function listValues(values: readonly unknown[]): string {
  return values
    .filter((v) => v !== undefined && v !== null)
    .map((v) => String(v))
    .join(' | ');
}

/** The per-parse error map: a message for every zod issue code our schemas do not word themselves. */
export function configErrorMap(iss: z.core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'required';
      const want = TYPE_WORDS[iss.expected] ?? iss.expected;
      return `expected ${want}, ${got(iss.input, iss.expected)}`;
    }
    case 'too_small': {
      const n = Number(iss.minimum);
      if (iss.origin === 'array' || iss.origin === 'set') {
        return n <= 1 ? 'must not be empty' : `expected at least ${n} items`;
      }
      if (iss.origin === 'string') return n <= 1 ? 'must not be empty' : `must be at least ${n} characters`;
      return `expected a number ${iss.inclusive === false ? '>' : '>='} ${n}`;
    }
    case 'too_big': {
      const n = Number(iss.maximum);
      if (iss.origin === 'array' || iss.origin === 'set') return `expected at most ${n} items`;
      if (iss.origin === 'string') return `must be at most ${n} characters`;
      return `expected a number ${iss.inclusive === false ? '<' : '<='} ${n}`;
    }
    case 'invalid_format':
      if (iss.format === 'regex' && iss.pattern) return `must match ${iss.pattern}`;
      return `invalid ${iss.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    case 'invalid_value': {
      const list = listValues(iss.values);
      const prefix = iss.values.length === 1 ? `expected ${list}` : `expected one of ${list}`;
      return iss.input === undefined ? 'required' : `${prefix}, ${got(iss.input)}`;
    }
    case 'invalid_union': {
      const options = (iss as { options?: unknown[] }).options;
      if (iss.discriminator !== undefined && options) {
        if (iss.input === undefined || (iss.input as Record<string, unknown>)?.[iss.discriminator] === undefined) {
          return `required (one of ${listValues(options)})`;
        }
        const value = (iss.input as Record<string, unknown>)[iss.discriminator];
        return `expected one of ${listValues(options)}, ${got(value)}`;
      }
      return iss.input === undefined ? 'required' : `invalid value ${describeValue(iss.input)}`;
    }
    case 'unrecognized_keys': {
      // Remember the keys the object does know, so each unknown key can get a suggestion later.
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      (iss as { knownKeys?: string[] }).knownKeys = shape ? Object.keys(shape) : [];
      return `unknown key${iss.keys.length === 1 ? '' : 's'} ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    case 'custom':
      return 'invalid value';
    default:
      return 'invalid value';
  }
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest known key within edit distance 2 (case-insensitive), if any. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const dist = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (dist < bestDist) {
      best = k;
      bestDist = dist;
    }
  }
  return best;
}

/** A ConfigIssue before its line is known, with the raw path for line lookup. */
export interface PathIssue {
  path: PathSegment[];
  message: string;
}

/** Maps finished zod issues (parsed with configErrorMap) to path issues, one per unknown key. */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[]): PathIssue[] {
  const out: PathIssue[] = [];
  for (const iss of issues) {
    const path = iss.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (iss.code === 'unrecognized_keys') {
      const known = (iss as { knownKeys?: string[] }).knownKeys ?? [];
      for (const key of iss.keys) {
        const hint = suggestKey(key, known);
        out.push({ path: [...path, key], message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}` });
      }
      continue;
    }
    out.push({ path, message: iss.message });
  }
  return out;
}

/** Sorts issues by line (issues without a line last), keeping the original order otherwise. */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.i - b.i)
    .map((x) => x.issue);
}
