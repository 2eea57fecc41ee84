// Reading a /metrics page (Prometheus text format) in tests and benchmarks.

/**
 * The sum of the samples of the metric named exactly `name` whose label block contains `labels` (e.g.
 * `status="ok"`; empty: every sample). 0 when there is none.
 */
export function sampleSum(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) total += Number(m[3]);
  }
  return total;
}
