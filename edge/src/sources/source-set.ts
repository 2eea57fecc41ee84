// The agent's running sources, keyed by name. A reload hands it the new list: a source whose config is
// unchanged keeps running untouched; a changed one is stopped and started again with its new config; a
// removed one is stopped; a new one is started. Readings a stopped source already handed to the sink are
// the runner's (queued for the next commit), so stopping a source loses nothing it read.
import type { Logger } from '@tidemark/shared';
import type { SourceConfig } from '../config.js';
import { createSource } from './registry.js';
import type { Source, SourceContext } from './source.js';

interface Entry {
  key: string;
  config: SourceConfig;
  source: Source;
}

export interface SourceChanges {
  kept: string[];
  started: string[];
  stopped: string[];
  restarted: string[];
  /** Sources of the new config that failed to start (name: message); the others were applied. */
  failed: string[];
}

export class SourceSet {
  private entries: Entry[] = [];

  constructor(
    private readonly contextFor: (config: SourceConfig) => SourceContext,
    private readonly logger: Logger,
  ) {}

  get sources(): Source[] {
    return this.entries.map((e) => e.source);
  }

  /** Lets every source that can read what already arrived do so now (Source.readNow), in config order. */
  readNow(): void {
    for (const e of this.entries) {
      try {
        e.source.readNow?.();
      } catch (err) {
        // A source must not throw here; should one, the runner's commit still runs.
        this.logger.error({ err, source: e.config.name }, 'bug: source readNow threw');
      }
    }
  }

  /** Creates (does not start) the sources of the first config. */
  create(configs: readonly SourceConfig[]): void {
    this.entries = configs.map((c, i) => this.entry(c, i));
  }

  async startAll(): Promise<void> {
    for (const e of this.entries) await e.source.start();
  }

  async stopAll(): Promise<void> {
    for (const e of this.entries) await this.stopOne(e);
  }

  /** Moves the running set to `configs`; see the module comment. */
  async apply(configs: readonly SourceConfig[]): Promise<SourceChanges> {
    const changes: SourceChanges = { kept: [], started: [], stopped: [], restarted: [], failed: [] };
    const old = new Map(this.entries.map((e) => [e.config.name, e]));
    const wanted = new Map(configs.map((c) => [c.name, JSON.stringify(c)]));
    for (const e of this.entries) {
      const key = wanted.get(e.config.name);
      if (key === e.key) continue;
      await this.stopOne(e);
      (key === undefined ? changes.stopped : changes.restarted).push(e.config.name);
    }
    const next: Entry[] = [];
    for (const [i, c] of configs.entries()) {
      const prev = old.get(c.name);
      if (prev && prev.key === JSON.stringify(c)) {
        next.push(prev);
        changes.kept.push(c.name);
        continue;
      }
      try {
        const e = this.entry(c, i);
        await e.source.start();
        next.push(e);
        if (!prev) changes.started.push(c.name);
      } catch (err) {
        this.logger.error({ err, source: c.name }, 'source failed to start on reload');
        changes.failed.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    this.entries = next;
    return changes;
  }

  private entry(config: SourceConfig, index: number): Entry {
    return { key: JSON.stringify(config), config, source: createSource(config, index, this.contextFor(config)) };
  }

  private async stopOne(e: Entry): Promise<void> {
    await e.source.stop().catch((err) => this.logger.error({ err, source: e.config.name }, 'source stop failed'));
  }
}
