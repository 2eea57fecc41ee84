// Builds a validated EdgeConfig for doctor tests from the same YAML-shaped input a user writes.
import { edgeConfigSchema, resolveEdgePaths, type EdgeConfig, type EdgeConfigInput } from '../../config.js';

export function doctorConfig(dir: string, input: Partial<EdgeConfigInput> = {}): EdgeConfig {
  const doc: EdgeConfigInput = {
    device: { id: 'press-07' },
    data_dir: `${dir}/data`,
    sources: [{ type: 'simulated', name: 'sim', rate_hz: 1, sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 60 }] }],
    uplink: { url: 'mqtt://127.0.0.1:1' },
    ...input,
  } as EdgeConfigInput;
  return resolveEdgePaths(edgeConfigSchema.parse(doc), dir);
}
