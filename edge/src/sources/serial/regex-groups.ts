// The named groups of a regex parser's pattern (config validation and the parser share it; no zod here).
/** Named groups of a pattern, or an error message. The empty alternative makes every group report. */
export function regexGroups(pattern: string): string[] | string {
  try {
    const groups = new RegExp(`(?:${pattern})|`).exec('')?.groups;
    return groups ? Object.keys(groups) : [];
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
}
