// Runs the real agent (edge/bin, built) on a prepared data dir with its uplink down and a 10 Hz simulated
// source, lets it settle, and reads its RSS from /proc. NODE_OPTIONS as the shipped systemd unit sets it.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../edge/bin/tidemark-edge.js', import.meta.url));
const UNIT = fileURLToPath(new URL('../../systemd/tidemark-edge.service', import.meta.url));

export async function agentRss(dataDir: string, settleMs = 20_000): Promise<{ rss_mb: number; hwm_mb: number; nodeOptions: string }> {
  const nodeOptions = /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1] ?? '';
  const config = join(dataDir, 'edge.yaml');
  writeFileSync(
    config,
    [
      'device: { id: bench-01 }',
      `data_dir: ${dataDir}`,
      'sources: [{ type: simulated, name: sim, rate_hz: 10, sensors: [{ name: t, shape: sine }] }]',
      'uplink: { url: "mqtt://127.0.0.1:1" }',
      'clock: { sync_check: assume_synced }',
      'log: { level: warn }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'run', '-c', config], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, settleMs)); // a benchmark's fixed settle time, not a test wait
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { rss_mb: Number((kb('VmRSS') / 1024).toFixed(1)), hwm_mb: Number((kb('VmHWM') / 1024).toFixed(1)), nodeOptions };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}
