#!/usr/bin/env node
// `npm start`: the whole pipeline on embedded defaults in one process — a collector (embedded MQTT broker,
// SQLite stream store, aggregator, HTTP API and the operators' console at /) and four simulated gateways,
// each with its own durable buffer and its own credentials. `yard-04` reaches the broker through a TCP
// proxy that cuts its network for 45 s every 3 minutes, so it goes offline, buffers, and catches up;
// `truck-19` is a vehicle gateway with GPS (lat/lon), drawn on the console's track view.
// Data lives in .tidemark-demo/ (delete it to start over).
// Ports: TIDEMARK_MQTT_PORT (default 1883), TIDEMARK_API_PORT (default 8080).
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collector, addDevice, defaultCloudConfig } from '@tidemark/cloud';
import { Agent, edgeConfigSchema } from '@tidemark/edge';
import { createLogger, isTidemarkError, shutdownSignal } from '@tidemark/shared';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const dataDir = join(root, '.tidemark-demo');

function port(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`npm start: ${name}=${raw} is not a port number (1-65535)`);
    process.exit(2);
  }
  return n;
}

const mqttPort = port('TIDEMARK_MQTT_PORT', 1883);
const apiPort = port('TIDEMARK_API_PORT', 8080);
const level = process.env.TIDEMARK_LOG_LEVEL ?? 'warn';

const GATEWAYS = [
  { id: 'press-07', sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 60, decimals: 2 }, { name: 'pressure_kpa', shape: 'random_walk', min: 95, max: 105, decimals: 1 }] },
  { id: 'oven-02', sensors: [{ name: 'temp_c', shape: 'step', min: 150, max: 240, period_s: 240, decimals: 1 }, { name: 'door_open', shape: 'square', min: 0, max: 1, period_s: 90, decimals: 0 }] },
  {
    id: 'truck-19',
    // A vehicle on a loop north of Paris: two sines of different periods trace its path (the e2e test
    // replays a real NMEA capture through the serial nmea parser; the demo needs no serial port).
    sensors: [
      { name: 'lat', shape: 'sine', min: 48.88, max: 48.93, period_s: 900, decimals: 6 },
      { name: 'lon', shape: 'sine', min: 2.28, max: 2.38, period_s: 1260, decimals: 6 },
      { name: 'speed_kmh', shape: 'random_walk', min: 0, max: 110, decimals: 1 },
      { name: 'coolant_c', shape: 'noise', min: 85, max: 95, decimals: 2 },
    ],
  },
  { id: 'yard-04', flaky: true, sensors: [{ name: 'level_m', shape: 'sine', min: 1, max: 4, period_s: 300, decimals: 3 }] },
];

/** yard-04's network: a TCP proxy to the broker that goes down for `downMs` every `everyMs`. */
function flakyLink(targetPort, { everyMs = 180_000, downMs = 45_000 } = {}) {
  const sockets = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = [client, upstream];
    for (const s of pair) {
      sockets.add(s);
      s.on('error', () => pair.forEach((x) => x.destroy()));
      s.on('close', () => {
        sockets.delete(s);
        pair.forEach((x) => x.destroy());
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const cycle = setInterval(() => {
    down = true;
    for (const s of sockets) s.destroy();
    console.log(`[${new Date().toISOString().slice(11, 19)}] yard-04 lost its network for ${downMs / 1000} s (it keeps reading and buffering)`);
    setTimeout(() => {
      down = false;
      console.log(`[${new Date().toISOString().slice(11, 19)}] yard-04 is back on the network: catching up`);
    }, downMs).unref();
  }, everyMs);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () => {
          clearInterval(cycle);
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}

async function main() {
  mkdirSync(dataDir, { recursive: true });
  const devicesFile = join(dataDir, 'devices.yaml');
  const cloudConfig = defaultCloudConfig({
    data_dir: join(dataDir, 'cloud'),
    broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
    auth: { devices_file: devicesFile },
    api: { listen: `127.0.0.1:${apiPort}` },
    // A rule that fires within a minute: press-07's temperature is a 1-minute sine between 20 and 80 °C (phase from the wall clock): above 45 for 33 s of every minute, below it at most 27 s in a row.
    alerts: {
      rules: [
        { name: 'press-warm', devices: 'press-*', sensor: 'temp_c', kind: 'threshold', above: 45, clear_below: 40, for: '3s', severity: 'warning', message: '{{device}} is warm: {{sensor}} = {{value}}' },
        { name: 'gateway-offline', kind: 'offline', after: '1m', severity: 'critical' },
      ],
    },
    log: { level },
  });
  const collector = new Collector(cloudConfig, {
    settings: { mqttPort: 'TIDEMARK_MQTT_PORT', apiPort: 'TIDEMARK_API_PORT' },
  });
  await collector.start();

  const agents = [];
  const link = await flakyLink(mqttPort);
  for (const [i, gw] of GATEWAYS.entries()) {
    // Real credentials: each demo gateway is registered like a field device would be.
    const password = await addDevice(devicesFile, gw.id);
    const config = edgeConfigSchema.parse({
      device: { id: gw.id },
      data_dir: join(dataDir, 'edge', gw.id),
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 10, seed: i + 1, sensors: gw.sensors }],
      uplink: { url: `mqtt://127.0.0.1:${gw.flaky ? link.port : mqttPort}`, username: gw.id, password, reconnect_max_ms: 5000 },
      clock: { sync_check: 'assume_synced' },
      log: { level },
    });
    const agent = new Agent(config, { logger: createLogger({ name: `edge:${gw.id}`, level }) });
    await agent.start();
    agents.push(agent);
  }

  const api = `http://127.0.0.1:${apiPort}`;
  const example = `${api}/api/v1/aggregates?device=press-07&sensor=temp_c&resolution=1m&from=${new Date(Date.now() - 3600_000).toISOString().slice(0, 13)}:00:00Z&to=2100-01-01T00:00:00Z`;
  console.log(`
Tidemark demo is running (data in ${dataDir}).
  Console      ${api}/   ← open this in a browser (fleet, device charts, GPS track, alerts)
  MQTT broker  mqtt://127.0.0.1:${mqttPort}   (TIDEMARK_MQTT_PORT)
  HTTP API     ${api}/api/v1   (TIDEMARK_API_PORT)
  gateways     ${GATEWAYS.map((g) => g.id).join(', ')} — 10 Hz simulated sensors each
               truck-19 has GPS (lat/lon): ${api}/#/track/truck-19
               yard-04 drops off the network for 45 s every 3 minutes and catches up

Try:
  curl -s ${api}/api/v1/devices
  curl -s ${api}/api/v1/devices/press-07/sensors
  curl -s '${example}'
  curl -s '${api}/api/v1/alerts?state=firing'          # rule press-warm fires within a minute
  npx tidemark-cloud alerts list --url ${api}
  curl -sN '${api}/api/v1/stream?device=press-07'       # bucket updates and alert transitions, live
  npx tidemark-cloud query --url ${api} --device press-07 --sensor temp_c --from -15m
  curl -s ${api}/metrics | grep tidemark_cloud_readings_total

Ctrl-C stops everything cleanly.
`);

  const summary = setInterval(() => void printSummary(api), 15_000);
  await printSummary(api);

  await shutdownSignal();
  clearInterval(summary);
  console.log('\nstopping…');
  for (const a of agents) await a.stop();
  link.close();
  await collector.stop();
  console.log('stopped.');
}

async function printSummary(api) {
  try {
    const devices = (await (await fetch(`${api}/api/v1/devices`)).json()).items ?? [];
    const line = devices.map((d) => `${d.id} ${d.online ? 'online' : 'offline'} ${d.readings} readings`).join(' | ');
    const firing = (await (await fetch(`${api}/api/v1/alerts?state=firing`)).json()).items ?? [];
    const alerts = firing.length ? ` | firing: ${firing.map((a) => a.id).join(', ')}` : '';
    console.log(`[${new Date().toISOString().slice(11, 19)}] ${line || 'waiting for the first batches…'}${alerts}`);
  } catch (err) {
    console.log(`summary unavailable: ${err.message}`);
  }
}

main().catch((err) => {
  if (isTidemarkError(err)) {
    console.error(`npm start: ${err.message}`);
    process.exit(err.exitCode);
  }
  console.error(err);
  process.exit(1);
});
