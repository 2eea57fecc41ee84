// Alert notifications over MQTT when the collector and the aggregator are separate processes, with an
// external Mosquitto (the shipped ACL): the aggregator role has no broker connection of its own, so it
// publishes through a client of its own (`<client_id>-alerts`). A real agent's readings fire a threshold
// rule; the retained firing state must reach a subscriber on tidemark/v1/alerts/<rule>/<device>.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { freePort, requireTool, useProcessReaper, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { CLOUD_BIN, startCli } from './support/cli.js';
import { setupCloud, setupEdge } from './support/pipeline.js';

describe('mqtt alert notifications from a separate aggregator role (external broker)', () => {
  useProcessReaper();

  it("publishes the retained firing state through the aggregator's own client", async () => {
    const cloud = await setupCloud(
      {
        alerts: {
          rules: [{ name: 'warm', devices: 'gw-*', sensor: 'temp_c', kind: 'threshold', above: 25, severity: 'warning' }],
          notify: [{ type: 'mqtt', username: 'tidemark-alerts', password: 'alerts-secret' }],
        },
      },
      'external',
    );
    const edge = setupEdge(cloud, 'gw-mq', {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 10, seed: 1, sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 30, period_s: 20, decimals: 2 }] }],
      batch: { max_readings: 20, max_delay_ms: 100 },
    });
    // The shipped ACL's users for the aggregator's publisher and for a watcher (Mosquitto re-reads on SIGHUP).
    const passwd = join(cloud.dir, 'mosquitto.passwd');
    for (const [user, pass] of [['tidemark-alerts', 'alerts-secret'], ['tidemark-operator', 'operator-secret']]) {
      const r = spawnSync(requireTool('mosquitto_passwd', 'mosquitto'), ['-b', passwd, user!, pass!], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    process.kill(cloud.mosquitto!.process.pid, 'SIGHUP');
    const procs: ManagedProcess[] = [];
    for (const role of ['collector', 'aggregator'] as const) {
      const p = startCli(role, CLOUD_BIN, ['run', '-c', cloud.configPath, '--role', role, '--listen', `127.0.0.1:${await freePort()}`]);
      procs.push(p);
      await p.waitForOutput('tidemark-cloud started', 20_000);
    }
    const aggregator = procs[1]!;
    await aggregator.waitForOutput('alert publisher connected to the external broker', 20_000);

    const agent = edge.start();
    const sub = await connectAsync(cloud.mqttUrl, { username: 'tidemark-operator', password: 'operator-secret', reconnectPeriod: 0, clean: true });
    const seen: { topic: string; state: string; retain: boolean }[] = [];
    sub.on('message', (topic, payload, packet) => {
      const body = JSON.parse(payload.toString()) as { state?: string };
      seen.push({ topic, state: String(body.state), retain: packet.retain });
    });
    await sub.subscribeAsync('tidemark/v1/alerts/#', { qos: 1 });
    await waitFor(() => seen.some((m) => m.topic === 'tidemark/v1/alerts/warm/gw-mq' && m.state === 'firing'), {
      timeoutMs: 30_000,
      description: 'a firing message on tidemark/v1/alerts/warm/gw-mq',
    });
    await sub.endAsync();

    // Retained: a subscriber arriving later gets the current state at once.
    const late = await connectAsync(cloud.mqttUrl, { username: 'tidemark-operator', password: 'operator-secret', reconnectPeriod: 0, clean: true });
    const retained: boolean[] = [];
    late.on('message', (_t, _p, packet) => retained.push(packet.retain));
    await late.subscribeAsync('tidemark/v1/alerts/warm/gw-mq', { qos: 1 });
    await waitFor(() => retained.length > 0, { timeoutMs: 10_000, description: 'the retained alert state' });
    expect(retained[0]).toBe(true);
    await late.endAsync();

    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    for (const p of procs.reverse()) expect((await p.kill('SIGTERM')).code, p.output()).toBe(0);
  });
});
