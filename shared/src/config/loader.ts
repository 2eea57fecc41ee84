// Loads a YAML config: parse (keeping line numbers) → substitute ${VAR} in scalar values → validate with zod.
// Every problem is collected and thrown as one ConfigError, sorted by line; nothing stops at the first error.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors/index.js';
import { configErrorMap, formatPath, fromZodIssues, sortIssues, type PathIssue, type PathSegment } from './issues.js';
import { substituteDocument, type SubstitutionOutcome } from './substitute.js';

export interface ParseConfigOptions {
  /** Names the document in messages (usually the file path). */
  source: string;
  /** Variables for `${VAR}` substitution; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

interface NodeSpan {
  path: PathSegment[];
  line: number;
  start: number;
  end: number;
}

/** Where each path of the document starts: the line of its key (mappings) or of the item (sequences). */
class LineIndex {
  private readonly byPath = new Map<string, NodeSpan>();

  constructor(doc: Document, lines: LineCounter) {
    const add = (path: PathSegment[], start: number, end: number) => {
      this.byPath.set(JSON.stringify(path), { path, line: lines.linePos(start).line, start, end });
    };
    const visit = (node: unknown, path: PathSegment[]): void => {
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
          const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
          const childPath = [...path, key];
          if (keyRange) add(childPath, keyRange[0], valueRange?.[2] ?? keyRange[2]);
          visit(pair.value, childPath);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          const range = (item as { range?: [number, number, number] } | null)?.range;
          if (range) add([...path, i], range[0], range[2]);
          visit(item, [...path, i]);
        });
      }
    };
    visit(doc.contents, []);
  }

  /** The line of `path`, or of its nearest ancestor below the root when the path itself is absent. */
  lineOf(path: readonly PathSegment[]): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const span = this.byPath.get(JSON.stringify(path.slice(0, n)));
      if (span) return span.line;
    }
    return undefined;
  }

  /** The deepest path whose key or item spans `offset`. */
  pathAt(offset: number): PathSegment[] {
    let best: NodeSpan | undefined;
    for (const span of this.byPath.values()) {
      if (span.start <= offset && offset < Math.max(span.end, span.start + 1) && (!best || span.path.length > best.path.length)) {
        best = span;
      }
    }
    return best?.path ?? [];
  }
}

function yamlIssue(err: YAMLError, text: string, lines: LineCounter, index: LineIndex): ConfigIssue {
  const [start, end] = err.pos;
  const line = lines.linePos(start).line;
  if (err.code === 'DUPLICATE_KEY') {
    const path = index.pathAt(start);
    const key = path.length > 0 ? String(path[path.length - 1]) : text.slice(start, end).trim();
    return { path: formatPath(path), message: `duplicate key "${key}"`, line };
  }
  if (err.code === 'MULTIPLE_DOCS') {
    return { path: '', message: 'the file holds several YAML documents (---); a config is one document', line };
  }
  const message = err.message.charAt(0).toLowerCase() + err.message.slice(1);
  // `{` is a flow indicator, so an unquoted ${VAR} inside [ ] or { } breaks the YAML itself.
  const lineText = text.split('\n')[line - 1] ?? '';
  const hint = lineText.includes('${') ? ' (inside [ ] or { }, a value using ${...} must be quoted)' : '';
  return { path: '', message: `YAML syntax error: ${message}${hint}`, line };
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** Replaces the value at `path` inside `root` (objects and arrays from YAML's toJS). */
function setAt(root: unknown, path: readonly PathSegment[], value: unknown): void {
  let node = root as Record<string | number, unknown> | undefined;
  for (const seg of path.slice(0, -1)) node = node?.[seg] as Record<string | number, unknown> | undefined;
  if (node && typeof node === 'object' && path.length > 0) node[path[path.length - 1]!] = value;
}

/**
 * Validates a plain value with `schema` and the config error wording, merging `extra` issues (from
 * substitution); a zod issue at or under a path that already has an extra issue is dropped as a consequence.
 * A substituted value that YAML typed as a number or boolean, where the schema wants a string, is given back
 * its text (so `password: ${PW}` works for PW=1234) and the value is validated again.
 */
function validate<T>(
  value: unknown,
  schema: z.ZodType<T>,
  source: string | undefined,
  lineOf: (path: readonly PathSegment[]) => number | undefined,
  extra: readonly PathIssue[] = [],
  inferred: SubstitutionOutcome['inferred'] = [],
): T {
  let result = schema.safeParse(value, { error: configErrorMap });
  if (!result.success && inferred.length > 0) {
    const wantsString = new Set(
      result.error.issues
        .filter((i) => i.code === 'invalid_type' && i.expected === 'string')
        .map((i) => JSON.stringify(i.path.map((p) => (typeof p === 'number' ? p : String(p))))),
    );
    const retyped = inferred.filter((x) => wantsString.has(JSON.stringify(x.path)));
    if (retyped.length > 0) {
      for (const x of retyped) setAt(value, x.path, x.text);
      result = schema.safeParse(value, { error: configErrorMap });
    }
  }
  const extraPaths = extra.map((i) => formatPath(i.path));
  const pathIssues = [
    ...extra,
    ...(result.success ? [] : fromZodIssues(result.error.issues)).filter((i) => {
      const p = formatPath(i.path);
      return !extraPaths.some((e) => isUnder(p, e));
    }),
  ];
  if (pathIssues.length === 0 && result.success) return result.data;
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const i of pathIssues) {
    const path = formatPath(i.path);
    const key = `${path}\u0000${i.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const line = lineOf(i.path);
    issues.push(line === undefined ? { path, message: i.message } : { path, message: i.message, line });
  }
  throw new ConfigError(sortIssues(issues), source);
}

/** Validates an in-memory value (e.g. defaults plus overrides) with the same wording as a file; no lines. */
export function validateConfig<T>(value: unknown, schema: z.ZodType<T>, source?: string): T {
  return validate(value, schema, source, () => undefined);
}

/** Parses YAML text and validates it. Throws ConfigError listing every problem with its path and line. */
export function parseConfigText<T>(text: string, schema: z.ZodType<T>, opts: ParseConfigOptions): T {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const index = new LineIndex(doc, lines);
  if (doc.errors.length > 0) {
    // One syntax error tends to cascade into many on the same line; the first per line is the useful one.
    const issues = doc.errors.map((e) => yamlIssue(e, text, lines, index));
    const firstPerLine = issues.filter((issue, i) => issues.findIndex((o) => o.line === issue.line) === i);
    throw new ConfigError(sortIssues(firstPerLine), opts.source);
  }
  const substitution = substituteDocument(doc, opts.env ?? process.env);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read YAML: ${(err as Error).message}` }], opts.source);
  }
  // An empty file is an empty mapping: every key takes its default.
  if (value === null || value === undefined) value = {};
  return validate(value, schema, opts.source, (p) => index.lineOf(p), substitution.issues, substitution.inferred);
}

/** Reads and validates a YAML config file. A missing or unreadable file is a ConfigError too. */
export function loadConfigFile<T>(path: string, schema: z.ZodType<T>, opts: { env?: NodeJS.ProcessEnv } = {}): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read config file ${resolve(path)}: ${(err as Error).message}` }], path);
  }
  return parseConfigText(text, schema, { source: path, ...(opts.env ? { env: opts.env } : {}) });
}

/** Resolves a path from a config against the config file's directory; absolute paths are kept. */
export function resolveConfigPath(baseDir: string, p: string): string;
export function resolveConfigPath(baseDir: string, p: string | undefined): string | undefined;
export function resolveConfigPath(baseDir: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : resolve(baseDir, p);
}
