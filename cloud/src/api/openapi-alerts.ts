// The alert routes' part of /api/v1/openapi.json (alerts-route.ts serves them).
import { errorResponse, json, NAME_PATTERN, nullable, ref, unauthorized, type Operation, type Parameter } from './openapi.js';

type JsonSchema = Record<string, unknown>;

const idParam = (): Parameter => ({ name: 'id', in: 'path', required: true, description: 'Alert id: `<rule>:<device>` or `<rule>:<device>:<sensor>`.', schema: { type: 'string' } });
const q = (name: string, description: string, schema: JsonSchema): Parameter => ({ name, in: 'query', required: false, description, schema });

export function alertPaths(maxPageSize: number): Record<string, { get?: Operation; post?: Operation }> {
  const limit = q('limit', 'Page size.', { type: 'integer', minimum: 1, maximum: Math.min(1000, maxPageSize), default: Math.min(100, maxPageSize) });
  const cursor = q('cursor', 'next_cursor of the previous page.', { type: 'string' });
  const page = (item: string) => json({ type: 'object', required: ['items', 'next_cursor'], properties: { items: { type: 'array', items: ref(item) }, next_cursor: nullable('string') } });
  const unavailable = errorResponse('This process has no alert store (alerts_unavailable).');
  return {
    '/api/v1/alerts': {
      get: {
        operationId: 'listAlerts',
        summary: 'Alert series (current state) or, with history=true, their transitions',
        description: 'Series are ordered by id; transitions by event time, then id. Without `state`, series in state normal are left out.',
        tags: ['alerts'],
        parameters: [
          q('state', 'Only series in this state (not with history=true).', { type: 'string', enum: ['pending', 'firing', 'resolved', 'normal'] }),
          q('rule', 'Only this rule.', { type: 'string', pattern: NAME_PATTERN }),
          q('device', 'Only this device.', { type: 'string', pattern: NAME_PATTERN }),
          q('history', 'List transitions instead of series.', { type: 'boolean', default: false }),
          limit,
          cursor,
        ],
        responses: { '200': { description: 'A page of alerts or transitions.', content: page('Alert') }, '400': errorResponse('A bad parameter (named in the message).'), '401': unauthorized, '501': unavailable },
      },
    },
    '/api/v1/alerts/{id}': {
      get: {
        operationId: 'getAlert',
        summary: 'One alert series',
        tags: ['alerts'],
        parameters: [idParam()],
        responses: { '200': { description: 'The alert.', content: json(ref('Alert')) }, '401': unauthorized, '404': errorResponse('No such alert.'), '501': unavailable },
      },
    },
    '/api/v1/alerts/{id}/transitions': {
      get: {
        operationId: 'listAlertTransitions',
        summary: 'The transitions of one alert series, oldest first',
        tags: ['alerts'],
        parameters: [idParam(), limit, cursor],
        responses: { '200': { description: 'A page of transitions.', content: page('AlertTransition') }, '401': unauthorized, '404': errorResponse('No such alert.'), '501': unavailable },
      },
    },
    '/api/v1/alerts/{id}/ack': {
      post: {
        operationId: 'ackAlert',
        summary: 'Acknowledge the current firing episode of an alert (token scope operate)',
        tags: ['alerts'],
        parameters: [idParam()],
        responses: {
          '200': { description: 'The acknowledged alert (acked_by is the token name).', content: json(ref('Alert')) },
          '401': unauthorized,
          '403': errorResponse('The token lacks the operate scope.'),
          '404': errorResponse('No such alert.'),
          '409': errorResponse('The alert is not firing.'),
          '501': unavailable,
        },
      },
    },
  };
}

// A function, not a constant: openapi.ts imports this module while it is still being evaluated.
const common = (): Record<string, JsonSchema> => ({
  rule: { type: 'string', pattern: NAME_PATTERN },
  device: { type: 'string', pattern: NAME_PATTERN },
  sensor: nullable('string', { description: 'null for device-level rules (offline, backlog, clock).' }),
  severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
  state: { type: 'string', enum: ['normal', 'pending', 'firing', 'resolved'] },
  value: nullable('number', { description: 'The value that caused the last transition.' }),
  since: { type: 'string', format: 'date-time', description: 'Event time since which the state holds (a firing alert: when its condition first held).' },
  event_time: { type: 'string', format: 'date-time', description: 'Event time of the last transition.' },
  late: { type: 'boolean', description: 'The transition happened more than allowed_lateness before its data arrived (a backlog).' },
  message: { type: 'string' },
  labels: { type: 'object', additionalProperties: { type: 'string' } },
});

export function alertSchemas(): Record<string, JsonSchema> {
  return {
    Alert: {
      type: 'object',
      required: ['id', 'rule', 'device', 'sensor', 'severity', 'state', 'value', 'since', 'event_time', 'late', 'message', 'labels', 'acked_by', 'acked_at'],
      properties: {
        id: { type: 'string' },
        ...common(),
        acked_by: nullable('string', { description: 'Who acknowledged the current firing episode.' }),
        acked_at: nullable('string', { format: 'date-time' }),
      },
    },
    AlertTransition: {
      type: 'object',
      required: ['id', 'alert_id', 'rule', 'device', 'sensor', 'severity', 'state', 'previous', 'value', 'event_time', 'since', 'late', 'message', 'labels'],
      properties: {
        id: { type: 'string', description: 'Stable transition id (the webhook-id of its notification).' },
        alert_id: { type: 'string' },
        ...common(),
        previous: { type: 'string', enum: ['normal', 'pending', 'firing', 'resolved'] },
        notified: { type: 'boolean', description: 'History only: whether the transition was sent to the notifiers.' },
        suppressed: nullable('string', { description: 'History only: why it was not sent (pending, normal, late, flapping, firing_not_notified, no_notifiers).' }),
      },
    },
  };
}
