// Which devices an alert rule watches (`devices:`): a glob over device ids (glob.ts), or a tag selector
// `{ tag: "site=plant-3" }` — the devices that have that tag in the devices file now (devices/device-tags.ts).
// A matcher takes the device's current tags, so a reader that caches its answers per device must drop them
// when the tags change (TagSnapshot.version); a glob's answer never changes.
import { hasTags, parseTagPair, type DeviceTags, type TagPair } from '../devices/device-tags.js';
import { compileGlob, globProblem } from './glob.js';

export type DeviceSelector = string | { tag: TagPair };

export type DeviceMatcher = (device: string, tags: DeviceTags) => boolean;

/** The config's `devices` value as a selector, or why it is not one (with the key at fault, '' for the value itself). */
export function parseSelector(raw: string | { tag: string }): { ok: DeviceSelector } | { problem: string; key: '' | 'tag' } {
  if (typeof raw === 'string') {
    const problem = globProblem(raw);
    return problem ? { problem, key: '' } : { ok: raw };
  }
  const tag = parseTagPair(raw.tag);
  return 'problem' in tag ? { problem: `expected a tag selector like "site=plant-3": ${tag.problem}`, key: 'tag' } : { ok: { tag } };
}

export function usesTags(selector: DeviceSelector): boolean {
  return typeof selector !== 'string';
}

export function compileSelector(selector: DeviceSelector): DeviceMatcher {
  if (typeof selector === 'string') {
    const glob = compileGlob(selector);
    return (device) => glob(device);
  }
  const required = [selector.tag];
  return (_device, tags) => hasTags(tags, required);
}

/** For messages and docs: `oven-*` or `tag site=plant-3`. */
export function describeSelector(selector: DeviceSelector): string {
  return typeof selector === 'string' ? selector : `tag ${selector.tag.key}=${selector.tag.value}`;
}
