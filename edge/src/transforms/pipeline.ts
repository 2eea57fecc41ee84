// The transform chain between every source and the buffer: each reading passes the configured transforms
// in config order; a transform applies only to the sensors its glob matches (matched against the name the
// reading has at that point, so a transform after a rename sees the new name). A removed reading stops
// there and is reported once, by the removing transform's label and its reason.
// Rebuilding the chain from a new config keeps the instance (and so the per-sensor state) of every
// transform whose config did not change: a reload restarts only what changed.
import type { TransformConfig } from './config.js';
import { DeadbandTransform } from './deadband.js';
import { FilterTransform } from './filter.js';
import { MinIntervalTransform } from './min-interval.js';
import { RenameTransform } from './rename.js';
import { RoundTransform } from './round.js';
import { ScaleTransform } from './scale.js';
import { sensorMatcher, type SensorMatcher } from './sensor-glob.js';
import type { Transform, TransformReading } from './transform.js';

export type { TransformReading } from './transform.js';

/** Called for every reading a transform removes. */
export type RemovedHandler = (transform: string, reason: string) => void;

interface Stage {
  key: string;
  label: string;
  matches: SensorMatcher;
  transform: Transform;
}

export function createTransform(config: TransformConfig): Transform {
  switch (config.type) {
    case 'filter':
      return new FilterTransform(config);
    case 'scale':
      return new ScaleTransform(config);
    case 'rename':
      return new RenameTransform(config.to);
    case 'deadband':
      return new DeadbandTransform(config);
    case 'min_interval':
      return new MinIntervalTransform(config.interval);
    case 'round':
      return new RoundTransform(config.decimals);
  }
}

/** The metric label of the transform at `index`: its `name`, else `<index>:<type>` (e.g. `0:filter`). */
export function transformLabel(config: TransformConfig, index: number): string {
  return config.name ?? `${index}:${config.type}`;
}

export class TransformPipeline {
  private readonly stages: Stage[];

  private constructor(stages: Stage[]) {
    this.stages = stages;
  }

  /** A chain for `configs`; transforms whose config is unchanged from `previous` keep their instance and state. */
  static build(configs: readonly TransformConfig[], previous?: TransformPipeline): TransformPipeline {
    const reusable = new Map<string, Stage[]>();
    for (const s of previous?.stages ?? []) {
      const list = reusable.get(s.key) ?? [];
      list.push(s);
      reusable.set(s.key, list);
    }
    const stages = configs.map((config, index): Stage => {
      const key = JSON.stringify(config);
      const old = reusable.get(key)?.shift();
      return {
        key,
        label: transformLabel(config, index),
        matches: old?.matches ?? sensorMatcher(config.sensors),
        transform: old?.transform ?? createTransform(config),
      };
    });
    return new TransformPipeline(stages);
  }

  get size(): number {
    return this.stages.length;
  }

  /** The transform instances in order (for tests that check which ones a rebuild kept). */
  get transforms(): readonly Transform[] {
    return this.stages.map((s) => s.transform);
  }

  /**
   * Runs the chain over one reading, changing it in place. Returns false when a transform removed it
   * (after telling `onRemoved`); true when it goes on to the buffer.
   */
  run(r: TransformReading, onRemoved: RemovedHandler): boolean {
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const s = stages[i]!;
      if (!s.matches(r.sensor)) continue;
      const reason = s.transform.apply(r);
      if (reason !== undefined) {
        onRemoved(s.label, reason);
        return false;
      }
    }
    return true;
  }
}
