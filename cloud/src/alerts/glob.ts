// Device and sensor globs for alert rules: `*` (any run of characters), `?` (one character) and `[abc]` /
// `[a-z]` (one of a set), over the name alphabet of SPEC (letters, digits, ".", "_", "-"). Anything else is
// a config error, reported with the offending character, so a typo never silently matches nothing.

const NAME_CHAR = /[A-Za-z0-9._-]/;

/** Why `glob` is not a valid glob, or undefined when it is. */
export function globProblem(glob: string): string | undefined {
  if (glob === '') return 'expected a glob such as "oven-*", got an empty string';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' || c === '?') continue;
    if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) return `unclosed "[" at position ${i + 1} in ${JSON.stringify(glob)}`;
      const set = glob.slice(i + 1, end);
      if (set === '' || !/^([A-Za-z0-9._]|[A-Za-z0-9]-[A-Za-z0-9])+-?$/.test(set)) return `bad character set "[${set}]" in ${JSON.stringify(glob)}`;
      i = end;
      continue;
    }
    if (!NAME_CHAR.test(c)) return `character ${JSON.stringify(c)} at position ${i + 1} cannot appear in a device or sensor name (glob ${JSON.stringify(glob)})`;
  }
  return undefined;
}

/** Compiles a valid glob (see globProblem) to a matcher. */
export function compileGlob(glob: string): (name: string) => boolean {
  if (!/[*?[]/.test(glob)) return (name) => name === glob;
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      re += `[${glob.slice(i + 1, end).replace(/[\\^]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.]/g, '\\.');
  }
  const regex = new RegExp(`${re}$`);
  return (name) => regex.test(name);
}
