// Alerts end to end, with real processes: socat-fed agents, the collector, and a webhook receiver that
// verifies every Standard Webhooks signature. A spike fires and resolves as the rule says; the collector is
// SIGKILLed after the transitions committed but before the webhook took them, and after the restart every
// transition id arrives (same ids, none missing, none new); the endpoint is down for 2 minutes and everything
// arrives after it returns; a flapping signal stays within the flapping bound; a 3-hour backlog yields its
// historical transitions, marked late; `replay` leaves GET /api/v1/alerts byte-identical; a bad rule is exit 2.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { SseClient } from '../cloud/src/api/testing/sse-client.js';
import { CLOUD_BIN, runCli, writeYaml } from './support/cli.js';
import { setupCloud, setupEdge } from './support/pipeline.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = 'whsec_dGlkZW1hcmstZTJlLXdlYmhvb2stc2VjcmV0';

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

interface Transition {
  id: string;
  alert_id: string;
  state: string;
  event_time: string;
  late: boolean;
  notified: boolean;
  suppressed: string | null;
  value: number | null;
}

async function pages<T>(url: string): Promise<{ items: T[]; raw: string[] }> {
  const items: T[] = [];
  const raw: string[] = [];
  let next: string | null = null;
  do {
    const res = await fetch(`${url}${url.includes('?') ? '&' : '?'}limit=100${next ? `&cursor=${next}` : ''}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    raw.push(text);
    const body = JSON.parse(text) as { items: T[]; next_cursor: string | null };
    items.push(...body.items);
    next = body.next_cursor;
  } while (next);
  return { items, raw };
}

describe('alerts end to end', () => {
  useProcessReaper();

  it('fires, resolves, survives a kill before delivery, an endpoint down for 2 minutes, flapping, a backlog and a replay', async () => {
    requireTool('socat', 'socat');
    const receiver = await WebhookReceiver.start({ secret: SECRET });
    const cloud = await setupCloud({
      alerts: {
        rules: [
          { name: 'spike', kind: 'threshold', sensor: 'temp_c', above: 100, clear_below: 50, severity: 'critical', message: '{{device}} {{sensor}} at {{value}}' },
        ],
        notify: [{ type: 'webhook', url: `${receiver.url}/hooks/tidemark`, secret: SECRET, timeout: '2s' }],
        flapping: { max_notifications: 4, window: '1h' },
        delivery: { retry_base: '200ms', retry_cap: '3s' },
      },
    });
    const pty = await openPtyPair();
    const edge = setupEdge(cloud, 'oven-1', {
      sources: [{ type: 'serial', name: 'oven', path: pty.a, baud_rate: 115200, parser: { format: 'csv', columns: ['ts', 'temp_c'], timestamp_column: 'ts' } }],
      batch: { max_readings: 100, max_delay_ms: 50 },
    });
    let collector = await cloud.start();
    const agent = edge.start();
    await waitFor(async () => ((await (await fetch(`${cloud.api}/api/v1/devices`)).json()) as { items: { id: string; online: boolean }[] }).items.some((d) => d.id === 'oven-1' && d.online), {
      timeoutMs: 20_000,
      description: 'agent online',
    });
    const history = async () => (await pages<Transition>(`${cloud.api}/api/v1/alerts?history=true`)).items;
    let t = Date.now() - 30 * 60_000;
    const lines = (values: number[]) => values.map((v) => `${(t += 1000)},${v}`).join('\n') + '\n';

    // 1. A spike while the endpoint answers 503: fired and resolved, committed, attempted, not delivered.
    receiver.respondWith(503, { times: 1_000_000 });
    const sse = await SseClient.connect(`${cloud.api}/api/v1/stream?device=oven-1`);
    writeTo(pty.b, `\n${lines([20, 30, 150, 160, 40, 20])}`);
    await waitFor(async () => (await history()).length === 2, { timeoutMs: 20_000, description: 'firing and resolved committed' });
    const first = await history();
    expect(first.map((x) => [x.state, x.value, x.notified])).toEqual([
      ['firing', 150, true],
      ['resolved', 40, true],
    ]);
    await waitFor(() => sse.events.filter((e) => e.event === 'alert').length === 2, { description: 'event: alert on the stream' });
    expect(JSON.parse(sse.events.find((e) => e.event === 'alert')!.data)).toMatchObject({ id: first[0]!.id, state: 'firing', message: 'oven-1 temp_c at 150' });
    sse.close();
    await waitFor(() => receiver.requests.length >= 2, { timeoutMs: 20_000, description: 'delivery attempted (and refused)' });
    expect(receiver.delivered).toEqual([]);

    // 2. SIGKILL with both transitions in the outbox; the endpoint recovers; the restarted collector sends them.
    await collector.kill('SIGKILL');
    receiver.clearStatus();
    collector = await cloud.start();
    await waitFor(() => first.every((x) => receiver.deliveredCount(x.id) >= 1), { timeoutMs: 30_000, description: 'both transitions delivered after the restart' });
    expect(receiver.deliveredIds().sort()).toEqual(first.map((x) => x.id).sort());
    expect(receiver.body(first[0]!.id)).toMatchObject({ type: 'alert.transition', id: first[0]!.id, state: 'firing', device: 'oven-1', value: 150 });

    // 3. The endpoint goes away for 2 minutes while the signal flaps: every notified transition arrives after it
    //    returns, and firings stay within the flapping bound (4 per rule and device per hour of event time).
    await receiver.stop();
    const downSince = Date.now();
    writeTo(pty.b, lines([150, 20, 150, 20, 150, 20, 150, 20, 150, 20]));
    await waitFor(async () => (await history()).length === 12, { timeoutMs: 20_000, description: 'the flapping transitions committed' });
    const flapped = await history();
    const notified = flapped.filter((x) => x.notified);
    expect(notified.filter((x) => x.state === 'firing')).toHaveLength(4);
    expect(flapped.filter((x) => x.suppressed === 'flapping')).toHaveLength(2);
    await waitFor(() => Date.now() - downSince >= 120_000, { timeoutMs: 130_000, intervalMs: 1000, description: 'the endpoint stays down for 2 minutes' });
    await receiver.restart();
    await waitFor(() => notified.every((x) => receiver.deliveredCount(x.id) >= 1), { timeoutMs: 60_000, description: 'everything delivered after the endpoint returned' });
    // Exactly the notified transitions, each with a valid signature; a redelivery carries the same id.
    expect([...new Set(receiver.deliveredIds())].sort()).toEqual(notified.map((x) => x.id).sort());
    expect(receiver.badSignatures).toEqual([]);

    // 4. A 3-hour backlog from another gateway: its transitions happened hours ago and are marked late.
    const backlogPty = await openPtyPair();
    const backlogEdge = setupEdge(cloud, 'oven-2', {
      sources: [{ type: 'serial', name: 'oven', path: backlogPty.a, baud_rate: 115200, parser: { format: 'csv', columns: ['ts', 'temp_c'], timestamp_column: 'ts' } }],
      batch: { max_readings: 1000, max_delay_ms: 50 },
    });
    const backlogAgent = backlogEdge.start();
    const threeHoursAgo = Date.now() - 3 * 3_600_000;
    const backlog: string[] = [];
    for (let i = 0; i < 180; i++) backlog.push(`${threeHoursAgo + i * 60_000},${i === 60 || i === 61 ? 200 : 25}`);
    await waitFor(async () => ((await (await fetch(`${cloud.api}/api/v1/devices`)).json()) as { items: { id: string; online: boolean }[] }).items.some((d) => d.id === 'oven-2' && d.online), {
      timeoutMs: 20_000,
      description: 'backlog agent online',
    });
    writeTo(backlogPty.b, `\n${backlog.join('\n')}\n`);
    await waitFor(async () => (await history()).filter((x) => x.alert_id === 'spike:oven-2:temp_c').length === 2, { timeoutMs: 30_000, description: 'historical transitions' });
    const old = (await history()).filter((x) => x.alert_id === 'spike:oven-2:temp_c');
    expect(old.map((x) => [x.state, x.event_time, x.late])).toEqual([
      ['firing', new Date(threeHoursAgo + 60 * 60_000).toISOString(), true],
      ['resolved', new Date(threeHoursAgo + 62 * 60_000).toISOString(), true],
    ]);

    // 5. Leave one alert firing and acknowledge it through the CLI.
    writeTo(pty.b, lines([170]));
    await waitFor(async () => (await pages<{ id: string }>(`${cloud.api}/api/v1/alerts?state=firing`)).items.length === 1, { timeoutMs: 20_000, description: 'firing again' });
    const ack = runCli(CLOUD_BIN, ['alerts', 'ack', 'spike:oven-1:temp_c', '--url', cloud.api]);
    expect(ack.code, ack.stderr + ack.stdout).toBe(0);
    const list = runCli(CLOUD_BIN, ['alerts', 'list', '--url', cloud.api, '--state', 'firing', '--format', 'json']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('"acked_by"');
    expect(list.stdout).toContain('anonymous');

    // 6. Replay rebuilds the alert history: GET /api/v1/alerts is byte-identical, nothing is sent again.
    const before = {
      series: (await pages(`${cloud.api}/api/v1/alerts?state=firing`)).raw.join('\n') + (await pages(`${cloud.api}/api/v1/alerts`)).raw.join('\n'),
      history: (await pages(`${cloud.api}/api/v1/alerts?history=true`)).raw.join('\n'),
    };
    const deliveredBefore = receiver.delivered.length;
    expect((await agent.kill('SIGTERM')).code).toBe(0);
    expect((await backlogAgent.kill('SIGTERM')).code).toBe(0);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
    const replay = runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/rebuilt the alert history: \d+ transitions/);
    collector = await cloud.start();
    const after = {
      series: (await pages(`${cloud.api}/api/v1/alerts?state=firing`)).raw.join('\n') + (await pages(`${cloud.api}/api/v1/alerts`)).raw.join('\n'),
      history: (await pages(`${cloud.api}/api/v1/alerts?history=true`)).raw.join('\n'),
    };
    expect(after).toEqual(before);
    expect(receiver.delivered.length).toBe(deliveredBefore);

    // 7. A bad rule is exit 2, naming its path.
    const bad = writeYaml(join(cloud.dir, 'bad.yaml'), { alerts: { rules: [{ name: 'x', kind: 'threshold', sensor: 'temp_c', on: '5m.avg', above: 1 }] } });
    const validate = runCli(CLOUD_BIN, ['validate', '-c', bad]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain('alerts.rules[0].on: "5m" is not one of aggregation.resolutions (1m, 1h, 1d)');

    expect((await collector.kill('SIGTERM')).code).toBe(0);
    await pty.close();
    await backlogPty.close();
    await receiver.close();
  }, 420_000);
});
