// What `tidemark-edge doctor` finds: one line per check (pass / warn / fail), a detail a field tech can act
// on, and for anything not passing a hint saying what to do next. Formatting is aligned plain text.

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Short and stable, e.g. `broker auth`, `serial plc: data`. */
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorReport {
  device: string;
  checks: DoctorCheck[];
}

export function pass(name: string, detail: string): DoctorCheck {
  return { name, status: 'pass', detail };
}

export function warn(name: string, detail: string, hint?: string): DoctorCheck {
  return hint === undefined ? { name, status: 'warn', detail } : { name, status: 'warn', detail, hint };
}

export function fail(name: string, detail: string, hint?: string): DoctorCheck {
  return hint === undefined ? { name, status: 'fail', detail } : { name, status: 'fail', detail, hint };
}

export function summarize(report: DoctorReport): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of report.checks) counts[c.status]++;
  return counts;
}

/** 1 when any check failed (SPEC: 1 = runtime failure), else 0. Warnings do not fail the command. */
export function doctorExitCode(report: DoctorReport): 0 | 1 {
  return report.checks.some((c) => c.status === 'fail') ? 1 : 0;
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };
const COLOR: Record<CheckStatus, string> = { pass: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m' };
const RESET = '\x1b[0m';

export interface FormatOptions {
  /** ANSI colours for the status words (use when stdout is a TTY). Default false. */
  color?: boolean;
}

/**
 * One aligned line per check (`PASS  name  detail`), hints indented under the detail, then a summary line:
 * `result: FAIL — 1 failed, 2 warnings, 9 passed`.
 */
export function formatDoctorReport(report: DoctorReport, opts: FormatOptions = {}): string {
  const width = Math.max(0, ...report.checks.map((c) => c.name.length));
  const paint = (status: CheckStatus, text: string) => (opts.color ? `${COLOR[status]}${text}${RESET}` : text);
  const indent = ' '.repeat(2 + 4 + 2 + width + 2);
  const lines = [`tidemark-edge doctor: device ${report.device}`, ''];
  for (const c of report.checks) {
    lines.push(`  ${paint(c.status, LABEL[c.status])}  ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.hint !== undefined && c.status !== 'pass') lines.push(`${indent}hint: ${c.hint}`);
  }
  const n = summarize(report);
  const overall: CheckStatus = n.fail > 0 ? 'fail' : n.warn > 0 ? 'warn' : 'pass';
  const parts = [`${n.fail} failed`, `${n.warn} warning${n.warn === 1 ? '' : 's'}`, `${n.pass} passed`];
  lines.push('', `result: ${paint(overall, LABEL[overall])} — ${parts.join(', ')}`, '');
  return lines.join('\n');
}
