import { describe, expect, it } from 'vitest';
import { doctorExitCode, fail, formatDoctorReport, pass, summarize, warn, type DoctorReport } from './report.js';

const report: DoctorReport = {
  device: 'press-07',
  checks: [
    pass('config', 'edge.yaml loaded'),
    warn('serial plc: device', '/dev/ttyUSB0 exists, but …', 'use path: /dev/serial/by-id/usb-FTDI'),
    fail('broker auth', 'bad credentials (CONNACK 5)', 'check uplink.password'),
    pass('clock', 'NTP synchronised'),
  ],
};

describe('formatDoctorReport', () => {
  it('prints one aligned line per check, hints under the detail, and a summary line', () => {
    expect(formatDoctorReport(report)).toBe(
      [
        'tidemark-edge doctor: device press-07',
        '',
        '  PASS  config              edge.yaml loaded',
        '  WARN  serial plc: device  /dev/ttyUSB0 exists, but …',
        '                            hint: use path: /dev/serial/by-id/usb-FTDI',
        '  FAIL  broker auth         bad credentials (CONNACK 5)',
        '                            hint: check uplink.password',
        '  PASS  clock               NTP synchronised',
        '',
        'result: FAIL — 1 failed, 1 warning, 2 passed',
        '',
      ].join('\n'),
    );
  });

  it('summarises warnings-only and all-pass reports', () => {
    expect(formatDoctorReport({ device: 'd', checks: [pass('a', 'x'), warn('b', 'y'), warn('c', 'z')] })).toContain('result: WARN — 0 failed, 2 warnings, 1 passed');
    expect(formatDoctorReport({ device: 'd', checks: [pass('a', 'x')] })).toContain('result: PASS — 0 failed, 0 warnings, 1 passed');
  });

  it('colours the status words only when asked', () => {
    expect(formatDoctorReport(report)).not.toContain('\x1b[');
    const coloured = formatDoctorReport(report, { color: true });
    expect(coloured).toContain('\x1b[31mFAIL\x1b[0m');
    expect(coloured).toContain('\x1b[32mPASS\x1b[0m');
    expect(coloured).toContain('\x1b[33mWARN\x1b[0m');
  });

  it('never prints a hint for a passing check', () => {
    expect(formatDoctorReport({ device: 'd', checks: [{ name: 'a', status: 'pass', detail: 'ok', hint: 'unused' }] })).not.toContain('hint');
  });
});

describe('summarize / doctorExitCode', () => {
  it('counts statuses; only a failure makes the exit code 1', () => {
    expect(summarize(report)).toEqual({ pass: 2, warn: 1, fail: 1 });
    expect(doctorExitCode(report)).toBe(1);
    expect(doctorExitCode({ device: 'd', checks: [pass('a', 'x'), warn('b', 'y')] })).toBe(0);
  });
});
