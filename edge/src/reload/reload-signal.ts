// SIGHUP → reload, for `tidemark-edge run`: re-reads the config file it was started with, validates it in
// the short-lived validator process (zod stays out of the agent), and hands a valid one to Agent.reload.
// A bad file logs every error with its path and the running config stays. Reloads never overlap: a SIGHUP
// during a reload runs one more reload after it. Every outcome is written to data_dir/reload-result.json
// for `tidemark-edge reload`; data_dir/agent.pid says which process to signal.
import { resolve } from 'node:path';
import { guard } from '@tidemark/shared';
import { ConfigError, type ConfigIssue, type Logger } from '@tidemark/shared';
import type { EdgeConfig } from '../config.js';
import type { ReloadOutcome } from './reload-plan.js';
import { pidFilePath, reloadResultPath, removePidFile, writeJsonAtomic, type PidFile, type ReloadResultFile } from './agent-files.js';

export interface Reloadable {
  readonly config: EdgeConfig;
  readonly logger: Logger;
  reload(next: EdgeConfig): Promise<ReloadOutcome>;
}

export interface ReloadHandle {
  /** Resolves when no reload is running (the agent's stop waits for this). */
  idle(): Promise<void>;
  close(): void;
}

export function handleReloads(agent: Reloadable, configPath: string, load: (path: string) => Promise<EdgeConfig>): ReloadHandle {
  const dataDir = agent.config.data_dir;
  const logger = agent.logger.child({ component: 'reload' });
  const pid: PidFile = { pid: process.pid, config_path: resolve(configPath), started_at: new Date().toISOString() };
  writeJsonAtomic(pidFilePath(dataDir), pid);
  let n = 0;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const once = async (): Promise<void> => {
    const number = ++n;
    logger.info({ config: pid.config_path, reload: number }, 'SIGHUP: reloading the config');
    let outcome: ReloadOutcome;
    try {
      outcome = await agent.reload(await load(configPath));
    } catch (err) {
      const errors: ConfigIssue[] = err instanceof ConfigError ? err.issues : [{ path: '', message: (err as Error).message }];
      outcome = { taken: false, errors };
    }
    if (outcome.taken) {
      logger.info({ reload: number, sources: outcome.sources, transforms_changed: outcome.transforms_changed, uplink_restarted: outcome.uplink_restarted }, 'config reloaded');
    } else {
      for (const e of outcome.errors) {
        logger.error({ reload: number, path: e.path, line: e.line, reason: e.message }, `config reload refused: ${e.path || '(root)'}: ${e.message}`);
      }
      logger.warn({ reload: number, errors: outcome.errors.length }, 'config reload refused; the running config stays');
    }
    const result: ReloadResultFile = outcome.taken
      ? { pid: process.pid, n: number, at: new Date().toISOString(), taken: true, errors: [], sources: outcome.sources, transforms_changed: outcome.transforms_changed, uplink_restarted: outcome.uplink_restarted }
      : { pid: process.pid, n: number, at: new Date().toISOString(), taken: false, errors: outcome.errors };
    try {
      writeJsonAtomic(reloadResultPath(dataDir), result);
    } catch (err) {
      logger.error({ err }, 'cannot write the reload result file');
    }
  };

  const onHup = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await once();
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
  };
  process.on('SIGHUP', guard(logger, 'SIGHUP handler', onHup));

  return {
    idle: async () => {
      await running;
    },
    close: () => {
      // The listener stays (ignoring): without one, a SIGHUP during shutdown would kill the process.
      closed = true;
      removePidFile(dataDir, process.pid);
    },
  };
}
