// GET /api/v1/alerts (current alert series, or with `history=true` their transitions), GET
// /api/v1/alerts/{id}, GET /api/v1/alerts/{id}/transitions and POST /api/v1/alerts/{id}/ack (scope operate).
// Ordering is deterministic (series by id; transitions by event time, then id) so the same alert store gives
// byte-identical pages — what `replay` is checked against. Every bad parameter is a 400 naming it.
import type { FastifyInstance } from 'fastify';
import { isValidName } from '@tidemark/proto';
import type { AlertState } from '../alerts/alert-types.js';
import type { SqliteAlertStore } from '../alerts/sqlite-alert-store.js';
import { QueryError } from './query-params.js';
import { sendError } from './send-error.js';

export interface AlertsRouteOptions {
  /** The alert store, or undefined when this process has none (alerts not configured, or another data_dir). */
  store: () => SqliteAlertStore | undefined;
  /** Answers 403 and returns undefined unless the caller may `operate`; else returns the caller's name. */
  operator: (req: { raw: object }, reply: import('fastify').FastifyReply) => string | undefined;
  maxPageSize: number;
}

const STATES: readonly AlertState[] = ['pending', 'firing', 'resolved', 'normal'];
const KNOWN = new Set(['state', 'rule', 'device', 'cursor', 'limit', 'history']);

function one(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new QueryError('invalid_parameter', `${name}: give it once`);
  return String(v);
}

function name(q: Record<string, unknown>, key: string): string | undefined {
  const v = one(q, key);
  if (v !== undefined && !isValidName(v)) throw new QueryError('invalid_parameter', `${key}: "${v}" is not a valid ${key} name`);
  return v;
}

function limitOf(q: Record<string, unknown>, max: number): number {
  const raw = one(q, 'limit');
  if (raw === undefined) return Math.min(100, max);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) throw new QueryError('invalid_parameter', `limit: expected an integer from 1 to ${max}, got "${raw}"`);
  return n;
}

const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function decode<T>(raw: string, check: (v: unknown) => v is T): T {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (check(v)) return v;
  } catch {
    /* below */
  }
  throw new QueryError('invalid_parameter', 'cursor: not a cursor this API returned');
}
const isSeriesCursor = (v: unknown): v is { a: string } => typeof (v as { a?: unknown })?.a === 'string';
const isTransitionCursor = (v: unknown): v is { t: number; i: string } =>
  typeof (v as { t?: unknown })?.t === 'number' && typeof (v as { i?: unknown })?.i === 'string';

export function registerAlertsRoutes(app: FastifyInstance, opts: AlertsRouteOptions): void {
  const storeOr501 = (reply: import('fastify').FastifyReply) => {
    const store = opts.store();
    if (!store) void sendError(reply, 501, 'alerts_unavailable', 'this process has no alert store (alerts are evaluated by the aggregator role; run the api role with its data_dir)');
    return store;
  };

  app.get('/api/v1/alerts', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    for (const k of Object.keys(q)) if (!KNOWN.has(k)) throw new QueryError('unknown_parameter', `${k}: unknown parameter (known: ${[...KNOWN].join(', ')})`);
    const stateRaw = one(q, 'state');
    if (stateRaw !== undefined && !(STATES as readonly string[]).includes(stateRaw)) {
      throw new QueryError('invalid_parameter', `state: expected one of ${STATES.join(', ')}, got "${stateRaw}"`);
    }
    const history = one(q, 'history');
    if (history !== undefined && history !== 'true' && history !== 'false') throw new QueryError('invalid_parameter', `history: expected true or false, got "${history}"`);
    const rule = name(q, 'rule');
    const device = name(q, 'device');
    const limit = limitOf(q, opts.maxPageSize);
    const cursor = one(q, 'cursor');
    const store = storeOr501(reply);
    if (!store) return reply;
    if (history === 'true') {
      if (stateRaw !== undefined) throw new QueryError('invalid_parameter', 'state: not with history=true (transitions of every state are listed)');
      const after = cursor === undefined ? undefined : decode(cursor, isTransitionCursor);
      const page = store.listTransitions({ rule, device, limit, ...(after ? { after: { eventTime: after.t, id: after.i } } : {}) });
      return { items: page.items, next_cursor: page.next ? encode({ t: page.next.eventTime, i: page.next.id }) : null };
    }
    const after = cursor === undefined ? undefined : decode(cursor, isSeriesCursor).a;
    const page = store.listAlerts({ state: stateRaw as AlertState | undefined, rule, device, after, limit });
    return { items: page.items, next_cursor: page.next ? encode({ a: page.next }) : null };
  });

  app.get('/api/v1/alerts/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const store = storeOr501(reply);
    if (!store) return reply;
    const item = store.getAlert(id);
    return item ?? sendError(reply, 404, 'unknown_alert', `no alert "${id}"`);
  });

  app.get('/api/v1/alerts/:id/transitions', async (req, reply) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, unknown>;
    const limit = limitOf(q, opts.maxPageSize);
    const cursor = one(q, 'cursor');
    const store = storeOr501(reply);
    if (!store) return reply;
    if (!store.getAlert(id)) return sendError(reply, 404, 'unknown_alert', `no alert "${id}"`);
    const after = cursor === undefined ? undefined : decode(cursor, isTransitionCursor);
    const page = store.listTransitions({ alertId: id, limit, ...(after ? { after: { eventTime: after.t, id: after.i } } : {}) });
    return { items: page.items, next_cursor: page.next ? encode({ t: page.next.eventTime, i: page.next.id }) : null };
  });

  app.post('/api/v1/alerts/:id/ack', async (req, reply) => {
    const { id } = req.params as { id: string };
    const by = opts.operator(req, reply);
    if (by === undefined) return reply;
    const store = storeOr501(reply);
    if (!store) return reply;
    const result = store.ack(id, by, Date.now());
    if (result.ok) return result.item;
    if (result.reason === 'not_found') return sendError(reply, 404, 'unknown_alert', `no alert "${id}"`);
    return sendError(reply, 409, 'not_firing', `alert "${id}" is not firing; only a firing alert can be acknowledged`);
  });
}
