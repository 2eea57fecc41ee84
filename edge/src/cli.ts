// tidemark-edge: run | validate | reload | doctor | init | buffer stats | buffer export. The only place that turns
// errors into exit codes (0 ok, 1 runtime failure, 2 usage or config error). Commands load their modules
// lazily so `run` on a small gateway does not carry the doctor's code in memory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError, executeCommand, formatBytes, runUntilSignal, StorageError } from '@tidemark/shared';
import { loadEdgeConfigIsolated } from './config-worker.js';
import type { BufferStats } from './buffer/sqlite-buffer.js';

const PROG = 'tidemark-edge';

export async function main(argv: string[]): Promise<number> {
  let result: Promise<number> = Promise.resolve(0);
  const program = new Command(PROG)
    .description('Tidemark edge agent: reads sensors, buffers durably, delivers exactly once to the collector')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run the agent until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'edge config file (YAML)')
    .action((opts: { config: string }) => {
      result = run(opts.config);
    });

  program
    .command('validate')
    .description('check a config file and list every error with its path')
    .requiredOption('-c, --config <file>', 'edge config file (YAML)')
    .action((opts: { config: string }) => {
      result = (async () => {
        const config = (await import('./config.js')).loadEdgeConfig(opts.config);
        process.stdout.write(`${opts.config}: ok (device ${config.device.id}, ${config.sources.length} source${config.sources.length === 1 ? '' : 's'})\n`);
        return 0;
      })();
    });

  program
    .command('init')
    .description('print a commented example config to stdout')
    .action(() => {
      result = (async () => {
        process.stdout.write((await import('./config-example.js')).EDGE_EXAMPLE_YAML);
        return 0;
      })();
    });

  program
    .command('doctor')
    .description('check config, storage, serial ports, GPIO, broker reachability/TLS/credentials and clock')
    .requiredOption('-c, --config <file>', 'edge config file (YAML)')
    .option('--auth-check', 'test credentials by connecting as the device (disconnects a running agent); default: only when status.listen shows no agent')
    .option('--no-auth-check', 'never connect to the broker as the device')
    .option('--timeout <ms>', 'bound on each network step', '5000')
    .option('--json', 'print the report as JSON')
    .action((opts: { config: string; authCheck?: boolean; timeout: string; json?: boolean }) => {
      result = (async () => {
        const timeoutMs = Number(opts.timeout);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
          throw new ConfigError([{ path: '--timeout', message: `expected a positive integer (ms), got "${opts.timeout}"` }]);
        }
        const config = (await import('./config.js')).loadEdgeConfig(opts.config);
        const { doctorExitCode, formatDoctorReport, runDoctor } = await import('./doctor/index.js');
        const report = await runDoctor(config, { configPath: opts.config, timeoutMs, authCheck: opts.authCheck ?? 'auto' });
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report, { color: process.stdout.isTTY === true }));
        return doctorExitCode(report);
      })();
    });

  program
    .command('reload')
    .description('make the running agent re-read its config (SIGHUP) and print whether the new config was taken')
    .requiredOption('-c, --config <file>', 'the edge config file the agent runs with (YAML)')
    .option('--timeout <ms>', 'how long to wait for the agent to answer', '30000')
    .action((opts: { config: string; timeout: string }) => {
      result = (async () => {
        const timeoutMs = Number(opts.timeout);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
          throw new ConfigError([{ path: '--timeout', message: `expected a positive integer (ms), got "${opts.timeout}"` }]);
        }
        const { reloadCommand } = await import('./reload/reload-command.js');
        const r = await reloadCommand(opts.config, timeoutMs);
        const text = r.lines.map((l, i) => (i === 0 ? `${opts.config}: ${l}` : l)).join('\n');
        (r.code === 0 ? process.stdout : process.stderr).write(`${text}\n`);
        return r.code;
      })();
    });

  const buffer = program.command('buffer').description('inspect the local buffer');
  buffer
    .command('export')
    .description('write every buffered reading as JSON Lines to stdout (read-only; safe while the agent runs)')
    .requiredOption('-c, --config <file>', 'edge config file (YAML)')
    .action((opts: { config: string }) => {
      result = (async () => {
        const config = (await import('./config.js')).loadEdgeConfig(opts.config);
        const { exportBuffer } = await import('./buffer/export.js');
        const r = await exportBuffer(join(config.data_dir, 'buffer.db'), process.stdout, { deviceId: config.device.id });
        process.stderr.write(
          `${PROG}: exported ${r.readings} readings (${r.batches} unacked batches, ${r.pendingReadings} pending) of device ${r.deviceId}, stream ${r.streamId}\n`,
        );
        for (const u of r.undecodable) process.stderr.write(`${PROG}: batch seq ${u.seq} does not decode (${u.error}); its readings are not in the export\n`);
        return r.undecodable.length > 0 ? 1 : 0;
      })();
    });
  buffer
    .command('stats')
    .description('readings, bytes, oldest/newest time, stream id, next seq, drops')
    .requiredOption('-c, --config <file>', 'edge config file (YAML)')
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => {
      result = (async () => {
        const config = (await import('./config.js')).loadEdgeConfig(opts.config);
        const path = join(config.data_dir, 'buffer.db');
        if (!existsSync(path)) throw new StorageError(`no buffer at ${path} (the agent has not run with this data_dir)`);
        // Opening alongside a running agent is safe: WAL allows a concurrent reader.
        const { SqliteBuffer } = await import('./buffer/sqlite-buffer.js');
        const buf = SqliteBuffer.open({ path, deviceId: config.device.id });
        try {
          const stats = buf.stats();
          process.stdout.write(opts.json ? `${JSON.stringify(statsJson(stats), null, 2)}\n` : formatStats(stats, path));
        } finally {
          buf.close();
        }
        return 0;
      })();
    });

  return executeCommand(
    PROG,
    () => program.parseAsync(argv),
    () => result,
    (err) => (err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : undefined),
  );
}

async function run(configPath: string): Promise<number> {
  // First: V8's optimizing compiler off for the long-running agent (v8-tiering.ts), before its code runs.
  (await import('./v8-tiering.js')).agentTiering();
  // Validated in a child process, so the long-running agent never holds the validator in memory; SIGHUP
  // re-validates the same way.
  const config = await loadEdgeConfigIsolated(configPath);
  const { Agent } = await import('./agent.js');
  const { handleReloads } = await import('./reload/reload-signal.js');
  const agent = new Agent(config);
  const reloads = handleReloads(agent, configPath, (path) => loadEdgeConfigIsolated(path));
  try {
    return await runUntilSignal({
      logger: agent.logger,
      start: () => agent.start(),
      stop: async () => {
        reloads.close();
        await reloads.idle();
        await agent.stop();
      },
    });
  } finally {
    reloads.close();
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function statsJson(s: BufferStats) {
  return {
    device_id: s.deviceId,
    stream_id: s.streamId,
    next_seq: s.nextSeq,
    readings: s.bufferedReadings,
    pending_readings: s.pendingReadings,
    sealed_batches: s.sealedBatches,
    sealed_readings: s.sealedReadings,
    oldest_time: iso(s.oldestTs),
    newest_time: iso(s.newestTs),
    file_bytes: s.fileBytes,
    drops: s.drops,
  };
}

function formatStats(s: BufferStats, path: string): string {
  const drops = Object.entries(s.drops);
  return [
    `buffer        ${path}`,
    `device        ${s.deviceId}`,
    `stream id     ${s.streamId}`,
    `next seq      ${s.nextSeq}`,
    `readings      ${s.bufferedReadings} (${s.pendingReadings} pending, ${s.sealedReadings} in ${s.sealedBatches} unacked batches)`,
    `oldest        ${iso(s.oldestTs) ?? '-'}`,
    `newest        ${iso(s.newestTs) ?? '-'}`,
    `file size     ${formatBytes(s.fileBytes)}`,
    `drops         ${drops.length ? drops.map(([r, n]) => `${r}: ${n}`).join(', ') : 'none'}`,
    '',
  ].join('\n');
}
