import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors/index.js';
import { loadConfigFile, parseConfigText, validateConfig } from './loader.js';
import { zByteSize, zDuration, zInt, zListen, zName } from './schemas.js';

const schema = z.strictObject({
  device: z.strictObject({ id: zName('device id') }),
  sources: z.array(
    z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('serial'), name: zName(), baud_rate: zInt({ min: 1 }).default(9600), flow: z.boolean().default(false) }),
      z.strictObject({ type: z.literal('gpio'), name: zName(), line: zInt({ min: 0 }) }),
      z.strictObject({ type: z.literal('simulated'), name: zName() }),
    ]),
  ),
  buffer: z.strictObject({ max_bytes: zByteSize().prefault('256MB'), max_age: zDuration().prefault('7d') }).prefault({}),
  uplink: z.strictObject({ url: z.string(), password: z.string().optional(), note: z.string().optional() }).prefault({ url: 'mqtt://x' }),
  status: z.strictObject({ listen: zListen() }).optional(),
  log: z.strictObject({ level: z.enum(['info', 'debug']).default('info') }).prefault({}),
});

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, schema, { source: 'test.yaml', env });

describe('parseConfigText', () => {
  it('fills defaults', () => {
    const c = parse('device: { id: d1 }\nsources: [{ type: serial, name: s }]\n');
    expect(c.buffer).toEqual({ max_bytes: 256_000_000, max_age: 604_800_000 });
    expect(c.sources[0]).toEqual({ type: 'serial', name: 's', baud_rate: 9600, flow: false });
    expect(c.log.level).toBe('info');
  });

  it('lists every error with its path and line, sorted by line', () => {
    const text = [
      'log:', //                   1
      '  level: verbose', //       2
      'device:', //                3
      '  id: press 07', //         4
      'sources:', //               5
      '  - type: serial', //       6
      '    name: plc', //          7
      '    baud_rate: -5', //      8
    ].join('\n');
    const issues = issuesOf(() => parse(text));
    expect(issues).toEqual([
      { path: 'log.level', message: 'expected one of info | debug, got "verbose"', line: 2 },
      { path: 'device.id', message: expect.stringContaining('invalid device id "press 07": must match ^[A-Za-z0-9]'), line: 4 },
      { path: 'sources[0].baud_rate', message: 'expected a positive integer', line: 8 },
    ]);
  });

  it('formats the error the way the CLI prints it', () => {
    const text = 'device: { id: d1 }\nsources:\n  - type: serial\n    name: plc\n    baud_rate: fast\n';
    expect(() => parse(text)).toThrow(/test\.yaml: invalid configuration, 1 error:\n {2}sources\[0\]\.baud_rate: expected a positive integer, got "fast" \(line 5\)/);
  });

  it('reports an unknown key at its own path, with a suggestion when one is close', () => {
    const text = 'device: { id: d1 }\nsources:\n  - type: serial\n    name: plc\n    baudrate: 9600\n    colour: red\n';
    expect(issuesOf(() => parse(text))).toEqual([
      { path: 'sources[0].baudrate', message: 'unknown key "baudrate" (did you mean "baud_rate"?)', line: 5 },
      { path: 'sources[0].colour', message: 'unknown key "colour"', line: 6 },
    ]);
  });

  it('names the allowed values of a discriminator', () => {
    const text = 'device: { id: d1 }\nsources:\n  - type: modbus\n    name: m\n  - name: n\n';
    expect(issuesOf(() => parse(text))).toEqual([
      { path: 'sources[0].type', message: 'expected one of serial | gpio | simulated, got "modbus"', line: 3 },
      { path: 'sources[1].type', message: 'required (one of serial | gpio | simulated)', line: 5 },
    ]);
  });

  it('reports a missing required key at the nearest line, and a missing section without one', () => {
    const issues = issuesOf(() => parse('device: {}\n'));
    expect(issues).toEqual([
      { path: 'device.id', message: 'required', line: 1 },
      { path: 'sources', message: 'required' },
    ]);
  });

  it('treats an empty document as an empty mapping', () => {
    expect(issuesOf(() => parse(''))).toEqual([
      { path: 'device', message: 'required' },
      { path: 'sources', message: 'required' },
    ]);
  });

  it('rejects a top level that is not a mapping', () => {
    expect(issuesOf(() => parse('- a\n- b\n'))).toEqual([{ path: '', message: 'expected a mapping, got a list' }]);
  });

  it('reports YAML syntax errors with a line', () => {
    const issues = issuesOf(() => parse('device:\n  id: [d1\nsources: []\n'));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]!.message).toMatch(/^YAML syntax error: /);
    expect(issues[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('reports duplicate keys', () => {
    const issues = issuesOf(() => parse('device: { id: d1 }\nsources: []\nlog:\n  level: info\n  level: debug\n'));
    expect(issues).toEqual([{ path: 'log.level', message: 'duplicate key "level"', line: 5 }]);
  });

  it('rejects several documents in one file', () => {
    expect(issuesOf(() => parse('device: { id: d1 }\n---\nsources: []\n'))[0]!.message).toMatch(/several YAML documents/);
  });
});

describe('substitution', () => {
  const base = 'device: { id: d1 }\nsources:\n  - type: serial\n    name: plc\n';

  it('substitutes variables and defaults inside values', () => {
    const c = parse(`${base}uplink:\n  url: mqtt://\${HOST}:\${PORT:-1883}\n  password: \${PW}\n`, { HOST: 'broker', PW: 's3cret' });
    expect(c.uplink).toEqual({ url: 'mqtt://broker:1883', password: 's3cret' });
  });

  it('gives an unquoted substituted scalar the type YAML would have given it', () => {
    const c = parse(`device: { id: d1 }\nsources:\n  - type: serial\n    name: plc\n    baud_rate: \${BAUD:-9600}\n    flow: \${FLOW:-true}\n`);
    expect(c.sources[0]).toMatchObject({ baud_rate: 9600, flow: true });
    const c2 = parse(`device: { id: d1 }\nsources:\n  - type: serial\n    name: plc\n    baud_rate: \${BAUD}\n`, { BAUD: '0x10' });
    expect(c2.sources[0]).toMatchObject({ baud_rate: 16 });
  });

  it('gives a string field the substituted text even when it looks like a number', () => {
    const c = parse(`${base}uplink:\n  url: mqtt://x\n  password: \${PW}\n  note: \${N}\n`, { PW: '0x10', N: 'true' });
    expect(c.uplink).toEqual({ url: 'mqtt://x', password: '0x10', note: 'true' });
    // Written literally, YAML's type stands, and the message says how to fix it.
    expect(issuesOf(() => parse(`${base}uplink:\n  url: mqtt://x\n  password: 1234\n`))).toEqual([
      { path: 'uplink.password', message: 'expected a string, got 1234 (quote it to make it a string)', line: 7 },
    ]);
  });

  it('keeps a quoted or explicitly tagged substituted scalar a string', () => {
    const c = parse(`${base}uplink:\n  url: mqtt://x\n  password: "\${PIN:-1234}"\n  note: !!str \${N:-42}\n`);
    expect(c.uplink).toEqual({ url: 'mqtt://x', password: '1234', note: '42' });
  });

  it('never lets a variable inject YAML structure', () => {
    const c = parse(`${base}uplink:\n  url: mqtt://x\n  password: \${PW}\n`, { PW: 'a: b\n- c #d' });
    expect(c.uplink.password).toBe('a: b\n- c #d');
    const issues = issuesOf(() => parse(`${base}uplink: \${U}\n`, { U: '{ url: mqtt://x }' }));
    expect(issues).toEqual([{ path: 'uplink', message: 'expected a mapping, got "{ url: mqtt://x }"', line: 5 }]);
  });

  it('reports an unset variable at its key, together with other issues', () => {
    const text = `${base}    baud_rate: 0\nuplink:\n  url: mqtt://x\n  password: \${TIDEMARK_PASSWORD}\n`;
    expect(issuesOf(() => parse(text))).toEqual([
      { path: 'sources[0].baud_rate', message: 'expected a positive integer', line: 5 },
      { path: 'uplink.password', message: 'environment variable TIDEMARK_PASSWORD is not set', line: 8 },
    ]);
  });

  it('does not add a type error on top of an unset variable', () => {
    const text = `${base}    baud_rate: \${BAUD}\n`;
    expect(issuesOf(() => parse(text))).toEqual([
      { path: 'sources[0].baud_rate', message: 'environment variable BAUD is not set', line: 5 },
    ]);
  });

  it('keeps $${ as a literal ${', () => {
    const c = parse(`${base}uplink:\n  url: mqtt://x\n  password: pa$\${x}ss\n`);
    expect(c.uplink.password).toBe('pa${x}ss');
  });

  it('does not substitute inside keys or comments', () => {
    const text = `${base}uplink:\n  url: mqtt://x # \${NOT_SET}\n  \${KEY}: 1\n`;
    expect(issuesOf(() => parse(text))).toEqual([{ path: 'uplink["${KEY}"]', message: 'unknown key "${KEY}"', line: 7 }]);
  });

  it('uses process.env by default', () => {
    process.env.TIDEMARK_TEST_SUBST = 'from-env';
    try {
      const c = parseConfigText(`${base}uplink:\n  url: mqtt://x\n  password: \${TIDEMARK_TEST_SUBST}\n`, schema, { source: 't' });
      expect(c.uplink.password).toBe('from-env');
    } finally {
      delete process.env.TIDEMARK_TEST_SUBST;
    }
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));

  it('reads and validates a file, naming it in the error', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'device: { id: d1 }\nsources: []\nstatus: { listen: ":9101" }\n');
    expect(loadConfigFile(file, schema).status).toEqual({ listen: { host: '0.0.0.0', port: 9101 } });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'device: { id: d1 }\n');
    expect(() => loadConfigFile(bad, schema)).toThrow(`${bad}: invalid configuration, 1 error:`);
  });

  it('turns a missing file into a ConfigError', () => {
    const file = join(dir, 'missing.yaml');
    const issues = issuesOf(() => loadConfigFile(file, schema));
    expect(issues).toEqual([{ path: '', message: expect.stringMatching(new RegExp(`^cannot read config file ${file}: ENOENT`)) }]);
    try {
      loadConfigFile(file, schema);
    } catch (err) {
      expect((err as ConfigError).exitCode).toBe(2);
    }
  });

  it('passes env through', () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'device: { id: "${DEV}" }\nsources: []\n');
    expect(loadConfigFile(file, schema, { env: { DEV: 'gw-1' } }).device.id).toBe('gw-1');
  });
});

describe('validateConfig', () => {
  it('validates in-memory values with the same wording, without lines', () => {
    expect(issuesOf(() => validateConfig({ device: { id: 'd1' }, sources: [], buffer: { max_bytes: 'x' } }, schema, 'defaults'))).toEqual([
      { path: 'buffer.max_bytes', message: expect.stringMatching(/^expected a size like/) },
    ]);
  });
});
