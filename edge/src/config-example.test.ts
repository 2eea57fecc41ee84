import { readFileSync } from 'node:fs';
import { parseConfigText } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { edgeConfigSchema } from './config.js';
import { EDGE_EXAMPLE_YAML } from './config-example.js';

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, edgeConfigSchema, { source: 'example', env });

describe('EDGE_EXAMPLE_YAML', () => {
  it('validates without any environment', () => {
    const c = parse(EDGE_EXAMPLE_YAML);
    expect(c.sources.map((s) => s.type)).toEqual(['serial', 'gpio', 'simulated']);
    expect(c.uplink.password).toBe('changeme');
    expect(c.status).toEqual({ listen: { host: '127.0.0.1', port: 9101 } });
  });

  it('takes the password from the environment when set', () => {
    expect(parse(EDGE_EXAMPLE_YAML, { TIDEMARK_PASSWORD: 'pw' }).uplink.password).toBe('pw');
  });

  it('shows every section of the schema', () => {
    for (const key of ['device', 'data_dir', 'sources', 'buffer', 'batch', 'uplink', 'clock', 'status', 'log']) {
      expect(EDGE_EXAMPLE_YAML).toMatch(new RegExp(`^${key}:`, 'm'));
    }
  });

  it('offers alternative parsers that validate too', () => {
    const alternatives = [...EDGE_EXAMPLE_YAML.matchAll(/^ {4}# (parser: \{.*\})[ \t]+#.*$/gm)].map((m) => m[1]!);
    expect(alternatives.map((a) => /format: (\w+)/.exec(a)![1])).toEqual(['json', 'kv', 'nmea', 'regex']);
    const active = /^ {4}parser:\n(?: {6}.*\n)+/m;
    expect(EDGE_EXAMPLE_YAML).toMatch(active);
    for (const alt of alternatives) {
      const c = parse(EDGE_EXAMPLE_YAML.replace(active, `    ${alt}\n`));
      expect(c.sources[0]).toMatchObject({ type: 'serial', parser: { format: /format: (\w+)/.exec(alt)![1] } });
    }
  });

  it('offers a Modbus source that validates once uncommented', () => {
    const block = /^ {2}# (- type: modbus\n(?: {2}# {3}.*\n)+)/m.exec(EDGE_EXAMPLE_YAML);
    expect(block).not.toBeNull();
    const uncommented = block![0].replace(/^ {2}# /gm, '  ');
    const c = parse(EDGE_EXAMPLE_YAML.replace(block![0], uncommented));
    expect(c.sources.map((s) => s.type)).toEqual(['serial', 'gpio', 'simulated', 'modbus']);
    expect(c.sources[3]).toMatchObject({ transport: 'rtu', slaves: [{ id: 3, timeout: 300, registers: [{ word_order: 'CDAB' }, { scale: 0.1 }, { type: 'bool' }] }] });
  });

  it('offers a TLS block that validates once uncommented (with mqtts://)', () => {
    const tls = EDGE_EXAMPLE_YAML.replace(/^ {2}# (tls:.*)$/m, '  $1')
      .replace(/^ {2}# {3}((?:ca|cert|key|reject_unauthorized): \S+).*$/gm, '    $1')
      .replace('mqtt://localhost:1883', 'mqtts://localhost:8883');
    const c = parse(tls);
    expect(c.uplink.tls).toEqual({ ca: 'ca.pem', cert: 'device.pem', key: 'device-key.pem', reject_unauthorized: true });
  });
});

describe('docs/configuration.md', () => {
  it('shows a minimal edge config that validates', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const block = /## Edge config\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const c = parse(block!, { TIDEMARK_PASSWORD: 'pw' });
    expect(c.device.id).toBe('press-07');
  });
});
