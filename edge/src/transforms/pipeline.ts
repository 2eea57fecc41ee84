// The transform chain between every source and the buffer: each reading passes the configured transforms
// in config order; a transform applies only to the sensors its glob matches (matched against the name the
// reading has at that point, so a transform after a rename sees the new name). A removed reading stops
// there and is reported once, by the removing transform's label and its reason.
// Which transforms a sensor meets depends only on its name (renames are fixed by config), so the pipeline
// plans the path of each sensor name once — its stages and each stateful transform's state for it — and a
// reading then costs one map lookup plus its transforms, not a glob test per stage.
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

/** A sensor's planned path: each transform bound to its state for that sensor, and its label. */
interface Plan {
  /** Closures, not transform objects: a call through a property of five different classes is megamorphic. */
  apply: ((r: TransformReading) => string | undefined)[];
  labels: string[];
}

/** Plans cached per sensor name; a source inventing endless names is planned per reading past this. */
const MAX_PLANS = 10_000;

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
  private readonly plans = new Map<string, Plan>();

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
    const plan = this.plans.get(r.sensor) ?? this.plan(r.sensor);
    const apply = plan.apply;
    for (let i = 0; i < apply.length; i++) {
      const reason = apply[i]!(r);
      if (reason !== undefined) {
        onRemoved(plan.labels[i]!, reason);
        return false;
      }
    }
    return true;
  }

  /** The stages a reading named `sensor` meets, in order, following renames along the way. */
  private plan(sensor: string): Plan {
    const plan: Plan = { apply: [], labels: [] };
    let name = sensor;
    for (const s of this.stages) {
      if (!s.matches(name)) continue;
      const t = s.transform;
      const state = t.stateFor?.(name);
      plan.apply.push(state === undefined ? (r) => t.apply(r) : (r) => t.apply(r, state));
      plan.labels.push(s.label);
      if (t.renamesTo !== undefined) name = t.renamesTo;
    }
    if (this.plans.size < MAX_PLANS) this.plans.set(sensor, plan);
    return plan;
  }
}
