// Device tags (SPEC "CLIs": `device tag ID key=value`): string key/value pairs an operator attaches to a
// device in the devices file, read by alert rule selectors and the devices API. One definition of what a
// valid tag is, shared by the CLI, the devices file reader, the API's `?tag=` filter and the alert config.

export type DeviceTags = Readonly<Record<string, string>>;

/** A tag requirement: the device has `key` with exactly `value`. */
export interface TagPair {
  key: string;
  value: string;
}

export const TAG_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const TAG_VALUE_MAX = 128;
export const NO_TAGS: DeviceTags = Object.freeze({});

/** Why `key` is not a tag key, or undefined when it is. */
export function tagKeyProblem(key: string): string | undefined {
  return TAG_KEY.test(key) ? undefined : `invalid tag key ${JSON.stringify(key)}: expected ${TAG_KEY.source}`;
}

/** Why `value` is not a tag value (non-empty, printable, at most 128 characters), or undefined when it is. */
export function tagValueProblem(value: string): string | undefined {
  if (value === '') return 'a tag value cannot be empty';
  if (value.length > TAG_VALUE_MAX) return `a tag value has at most ${TAG_VALUE_MAX} characters (got ${value.length})`;
  // Printable: no control characters (C0, DEL, C1) and no line or paragraph separators.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u.test(value)) return `tag value ${JSON.stringify(value)} has a non-printable character`;
  return undefined;
}

/** Parses `key=value` (the value may itself contain "="); `problem` says what is wrong with it. */
export function parseTagPair(text: string): TagPair | { problem: string } {
  const eq = text.indexOf('=');
  if (eq < 0) return { problem: `expected key=value, got ${JSON.stringify(text)}` };
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const problem = tagKeyProblem(key) ?? tagValueProblem(value);
  return problem ? { problem } : { key, value };
}

/** True when the device has every one of the required tags. */
export function hasTags(tags: DeviceTags, required: readonly TagPair[]): boolean {
  for (const r of required) if (tags[r.key] !== r.value) return false;
  return true;
}
