// `${VAR}` / `${VAR:-default}` substitution, applied to scalar values of an already parsed YAML document,
// so a variable can never inject YAML structure. An unquoted scalar that becomes number- or boolean-looking
// gets the type YAML would have given it (`baud_rate: ${BAUD:-9600}` is the number 9600).

import { isMap, isScalar, isSeq, type Document, type Node, type Scalar, type ScalarTag } from 'yaml';
import type { PathSegment, PathIssue } from './issues.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SubstituteResult {
  value: string;
  /** Problems found (unset variable, malformed `${…}`), as messages for the scalar's path. */
  problems: string[];
}

/**
 * Expands `${VAR}` and `${VAR:-default}` in one string. As in POSIX shells, `:-` uses the default when the
 * variable is unset or empty. `$${` is an escape for a literal `${`. A `$` not followed by `{` is literal.
 */
export function substituteString(text: string, env: NodeJS.ProcessEnv): SubstituteResult {
  const problems: string[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    if (text.startsWith('$${', at)) {
      out += '${';
      i = at + 3;
      continue;
    }
    if (!text.startsWith('${', at)) {
      out += '$';
      i = at + 1;
      continue;
    }
    const close = text.indexOf('}', at + 2);
    if (close < 0) {
      problems.push(`unterminated "\${" in "${text}" (write "$\${" for a literal "\${")`);
      out += text.slice(at);
      break;
    }
    const inner = text.slice(at + 2, close);
    const sep = inner.indexOf(':-');
    const name = sep < 0 ? inner : inner.slice(0, sep);
    const fallback = sep < 0 ? undefined : inner.slice(sep + 2);
    if (!VAR_NAME.test(name)) {
      problems.push(`invalid substitution "\${${inner}}": expected \${NAME} or \${NAME:-default}`);
    } else {
      const value = env[name];
      if (fallback !== undefined) out += value === undefined || value === '' ? fallback : value;
      else if (value === undefined) problems.push(`environment variable ${name} is not set`);
      else out += value;
    }
    i = close + 1;
  }
  return { value: out, problems };
}

/** The type YAML's schema would give a plain scalar with this text, limited to numbers and booleans. */
function inferPlainScalar(doc: Document, text: string): string | number | boolean {
  const tags = (doc.schema as unknown as { tags: ScalarTag[] }).tags;
  for (const tag of tags) {
    if (!tag.default || !tag.test || !tag.test.test(text) || typeof tag.resolve !== 'function') continue;
    let failed = false;
    const raw: unknown = tag.resolve(text, () => (failed = true), doc.options as never);
    const resolved = isScalar(raw) ? raw.value : raw; // some tags (bool) resolve to a Scalar node
    if (!failed && (typeof resolved === 'number' || typeof resolved === 'boolean')) return resolved;
    return text;
  }
  return text;
}

function keySegment(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

export interface SubstitutionOutcome {
  /** Unset variables and malformed references, at the path of the value that used them. */
  issues: PathIssue[];
  /** Values that became a number or boolean by inference, with their text: a string field takes the text. */
  inferred: { path: PathSegment[]; text: string }[];
}

/**
 * Substitutes variables in every string scalar value of `doc` (mapping keys are left alone), in place.
 */
export function substituteDocument(doc: Document, env: NodeJS.ProcessEnv): SubstitutionOutcome {
  const issues: PathIssue[] = [];
  const inferred: SubstitutionOutcome['inferred'] = [];
  const visit = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) visit(pair.value, [...path, keySegment(pair.key)]);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('$')) {
      const scalar = node as Scalar<unknown>;
      const { value, problems } = substituteString(scalar.value as string, env);
      for (const message of problems) issues.push({ path, message });
      const plain = scalar.type === 'PLAIN' && scalar.tag === undefined;
      scalar.value = plain && value !== scalar.value ? inferPlainScalar(doc, value) : value;
      if (scalar.value !== value) inferred.push({ path, text: value });
    }
  };
  visit(doc.contents as Node | null, []);
  return { issues, inferred };
}
