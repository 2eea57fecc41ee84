// Bearer tokens for the HTTP API (api.tokens_file). The file lists named tokens; a request must carry one
// of them as `Authorization: Bearer <token>`. Comparison is constant-time. Health endpoints stay open so
// load balancers and orchestrators can probe without secrets.
//
// Scopes: `read` (every GET), `operate` (acknowledge alerts), `admin` (everything). Each implies the ones
// before it. A token without `scopes` (files written before scopes existed) has read + operate.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '@tidemark/shared';

export const SCOPES = ['read', 'operate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiToken {
  name: string;
  token: string;
  /** Absent: read + operate (token files from before scopes). */
  scopes?: Scope[];
}

/** Whether `token` may do what `scope` allows (admin ⊃ operate ⊃ read). */
export function hasScope(token: ApiToken, scope: Scope): boolean {
  const granted = token.scopes ?? ['read', 'operate'];
  const rank = SCOPES.indexOf(scope);
  return granted.some((g) => SCOPES.indexOf(g) >= rank);
}

/** Reads `tokens: [{ name, token }]`; every problem is reported with its path. */
export function loadTokens(path: string): ApiToken[] {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([{ path: 'api.tokens_file', message: `cannot read ${path}: ${(err as Error).message}` }]);
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError([{ path: 'tokens', message: 'expected a non-empty list of { name, token }' }], path);
  const issues = [];
  const tokens: ApiToken[] = [];
  for (const [i, t] of list.entries()) {
    const { name, token, scopes } = (t ?? {}) as { name?: unknown; token?: unknown; scopes?: unknown };
    if (typeof name !== 'string' || name === '') issues.push({ path: `tokens[${i}].name`, message: 'expected a string' });
    if (typeof token !== 'string' || token.length < 16) issues.push({ path: `tokens[${i}].token`, message: 'expected a string of at least 16 characters' });
    const badScopes =
      scopes !== undefined && (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((x) => !(SCOPES as readonly unknown[]).includes(x)));
    if (badScopes) issues.push({ path: `tokens[${i}].scopes`, message: `expected a non-empty list of ${SCOPES.join(', ')}` });
    if (typeof name === 'string' && typeof token === 'string') tokens.push(scopes === undefined || badScopes ? { name, token } : { name, token, scopes: scopes as Scope[] });
  }
  if (issues.length) throw new ConfigError(issues, path);
  return tokens;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Returns the token when the Authorization header carries a known one, else undefined. */
export function authenticate(header: string | undefined, tokens: readonly ApiToken[]): ApiToken | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const given = digest(m[1]!);
  let found: ApiToken | undefined;
  for (const t of tokens) if (timingSafeEqual(given, digest(t.token))) found ??= t;
  return found;
}

/** Returns the token's name when the Authorization header carries a known token, else undefined. */
export function authorize(header: string | undefined, tokens: readonly ApiToken[]): string | undefined {
  return authenticate(header, tokens)?.name;
}
