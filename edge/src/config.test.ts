import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfigText, type ConfigIssue } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { edgeConfigSchema, loadEdgeConfig, type EdgeConfig } from './config.js';

/** SPEC.md "Edge config", verbatim. */
const SPEC_EXAMPLE = `device:
  id: press-07
data_dir: /var/lib/tidemark          # buffer.db lives here
sources:
  - type: serial                     # serial | gpio | simulated
    name: plc
    path: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0
    baud_rate: 115200
    parser:
      format: csv                    # csv | json | kv | nmea | regex
      columns: [temp_c, pressure_kpa]
  - type: gpio
    name: door
    chip: gpiochip0
    line: 17
    sensor: door_open
  - type: simulated
    name: sim
    rate_hz: 10
    sensors: [{ name: temp_c, shape: sine, min: 20, max: 80, period_s: 60 }]
buffer:
  max_bytes: 256MB
  max_age: 7d
  on_full: drop_oldest               # drop_oldest | drop_newest | block
batch:
  max_readings: 1000
  max_delay_ms: 250                  # bounds end-to-end latency
uplink:
  url: mqtt://collector.example:1883 # mqtts:// with tls: { ca, cert, key }
  username: press-07
  password: \${TIDEMARK_PASSWORD}
clock:
  sync_check: auto                   # auto (timedatectl/adjtimex) | assume_synced | never_synced
status:
  listen: 127.0.0.1:9101             # optional: /healthz, /metrics, /status
`;

const MINIMAL = `device: { id: gw-1 }
sources:
  - { type: simulated, name: sim, sensors: [{ name: t, shape: sine }] }
uplink: { url: "mqtt://localhost:1883" }
`;

function parse(text: string, env: NodeJS.ProcessEnv = {}): EdgeConfig {
  return parseConfigText(text, edgeConfigSchema, { source: 'edge.yaml', env });
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    parse(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** MINIMAL with its only source replaced by `source` (YAML flow or block, indented as a list item). */
const withSource = (source: string) => MINIMAL.replace(/ {2}- \{ type: simulated.*\n/, `${source}\n`);

describe('edge config', () => {
  it('accepts the SPEC.md example with every default filled in', () => {
    const c = parse(SPEC_EXAMPLE, { TIDEMARK_PASSWORD: 'pw' });
    expect(c).toEqual({
      device: { id: 'press-07' },
      data_dir: '/var/lib/tidemark',
      sources: [
        {
          type: 'serial',
          name: 'plc',
          path: '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0',
          baud_rate: 115200,
          data_bits: 8,
          parity: 'none',
          stop_bits: 1,
          max_line_length: 4096,
          reconnect_min_ms: 500,
          reconnect_max_ms: 10_000,
          read_interval_ms: 20,
          parser: { format: 'csv', columns: ['temp_c', 'pressure_kpa'], delimiter: ',', skip_header: false },
        },
        {
          type: 'gpio',
          name: 'door',
          chip: 'gpiochip0',
          line: 17,
          sensor: 'door_open',
          debounce_ms: 10,
          active_low: false,
          bias: 'as_is',
          driver: 'gpiod',
        },
        {
          type: 'simulated',
          name: 'sim',
          rate_hz: 10,
          sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 60, decimals: 2 }],
        },
      ],
      buffer: { max_bytes: 256_000_000, max_age: 7 * 86_400_000, on_full: 'drop_oldest', commit_interval_ms: 100, persist: 'unacked' },
      batch: { max_readings: 1000, max_delay_ms: 250 },
      uplink: {
        url: 'mqtt://collector.example:1883',
        username: 'press-07',
        password: 'pw',
        keepalive_s: 30,
        max_inflight: 8,
        ack_timeout_ms: 30_000,
        reconnect_min_ms: 500,
        reconnect_max_ms: 30_000,
      },
      clock: { sync_check: 'auto', min_plausible_time: Date.UTC(2024, 0, 1) },
      status: { listen: { host: '127.0.0.1', port: 9101 } },
      log: { level: 'info' },
    });
  });

  it('needs TIDEMARK_PASSWORD for the SPEC example, and says so at the key', () => {
    expect(issuesOf(SPEC_EXAMPLE)).toEqual([
      { path: 'uplink.password', message: 'environment variable TIDEMARK_PASSWORD is not set', line: 31 },
    ]);
  });

  it('fills defaults for a minimal config', () => {
    const c = parse(MINIMAL);
    expect(c.data_dir).toBe('./data');
    expect(c.buffer).toEqual({ max_bytes: 256_000_000, max_age: 604_800_000, on_full: 'drop_oldest', commit_interval_ms: 100, persist: 'unacked' });
    expect(c.batch).toEqual({ max_readings: 1000, max_delay_ms: 250 });
    expect(c.clock).toEqual({ sync_check: 'auto', min_plausible_time: Date.UTC(2024, 0, 1) });
    expect(c.status).toBeUndefined();
    expect(c.log).toEqual({ level: 'info' });
    expect(c.sources[0]).toEqual({
      type: 'simulated',
      name: 'sim',
      rate_hz: 1,
      sensors: [{ name: 't', shape: 'sine', min: 0, max: 1, period_s: 60, decimals: 2 }],
    });
  });

  it('defaults the status listen address', () => {
    expect(parse(`${MINIMAL}status: {}\n`).status).toEqual({ listen: { host: '127.0.0.1', port: 9101 } });
  });

  it('reports the SPEC CLI example error', () => {
    const text = withSource('  - { type: serial, name: plc, path: /dev/ttyS0, baud_rate: -1, parser: { format: json } }');
    expect(issuesOf(text)).toEqual([{ path: 'sources[0].baud_rate', message: 'expected a positive integer', line: 3 }]);
  });

  it('lists three errors at once with paths and lines', () => {
    const text = `device: { id: gw-1 }
sources:
  - type: serial
    name: plc
    path: /dev/ttyS0
    baudrate: 9600
    parser: { format: csv, columns: [a, b] }
buffer:
  on_full: wait
uplink:
  url: http://collector
`;
    expect(issuesOf(text)).toEqual([
      { path: 'sources[0].baudrate', message: 'unknown key "baudrate" (did you mean "baud_rate"?)', line: 6 },
      { path: 'buffer.on_full', message: 'expected one of drop_oldest | drop_newest | block, got "wait"', line: 9 },
      { path: 'uplink.url', message: 'expected a mqtt:// or mqtts:// URL, got "http://collector"', line: 11 },
    ]);
  });

  it('names the source types', () => {
    expect(issuesOf(withSource('  - { type: opcua, name: m }'))).toEqual([
      { path: 'sources[0].type', message: 'expected one of serial | gpio | simulated | modbus, got "opcua"', line: 3 },
    ]);
  });

  it('names the parser formats', () => {
    expect(issuesOf(withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: xml } }'))).toEqual([
      { path: 'sources[0].parser.format', message: 'expected one of csv | json | kv | nmea | regex, got "xml"', line: 3 },
    ]);
  });

  it('rejects duplicate source names', () => {
    const text = withSource(
      '  - { type: gpio, name: x, line: 1, sensor: a }\n  - { type: gpio, name: y, line: 2, sensor: b }\n  - { type: gpio, name: x, line: 3, sensor: c }',
    );
    expect(issuesOf(text)).toEqual([{ path: 'sources[2].name', message: 'duplicate source name "x" (also sources[0])', line: 5 }]);
  });

  it('needs at least one source', () => {
    expect(issuesOf(withSource('  []').replace('sources:\n  []', 'sources: []'))).toEqual([
      { path: 'sources', message: 'list at least one source', line: 2 },
    ]);
  });

  it('checks that timestamp_column is one of the columns', () => {
    const text = withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: csv, columns: [a, b], timestamp_column: ts } }');
    expect(issuesOf(text)).toEqual([{ path: 'sources[0].parser.timestamp_column', message: '"ts" is not one of columns (a, b)', line: 3 }]);
  });

  it('checks csv columns are valid and unique, and the delimiter one character', () => {
    const text = withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: csv, columns: [a, a, "b c"], delimiter: ";;" } }');
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^sources\[0\]\.parser\.columns\[2\]: invalid column name "b c": must match/),
      'sources[0].parser.delimiter: expected a single character, e.g. "," or ";"',
      'sources[0].parser.columns[1]: duplicate column "a" (also columns[0])',
    ]);
  });

  it('checks a regex parser compiles and has named groups', () => {
    const bad = withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: regex, pattern: "T=(" } }');
    expect(issuesOf(bad)).toEqual([
      { path: 'sources[0].parser.pattern', message: expect.stringMatching(/^invalid regular expression: /), line: 3 },
    ]);
    const unnamed = withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: regex, pattern: "T=([0-9]+)" } }');
    expect(issuesOf(unnamed)[0]!.message).toMatch(/needs at least one named group/);
    const group = withSource(
      '  - { type: serial, name: s, path: /dev/x, parser: { format: regex, pattern: "T=(?<temp>[0-9]+)", timestamp_group: ts } }',
    );
    expect(issuesOf(group)).toEqual([
      { path: 'sources[0].parser.timestamp_group', message: '"ts" is not a named group of pattern (temp)', line: 3 },
    ]);
    const ok = parse(withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: regex, pattern: "(?<ts>\\\\d+) T=(?<temp>[0-9.]+)", timestamp_group: ts } }'));
    expect(ok.sources[0]).toMatchObject({ parser: { format: 'regex', timestamp_group: 'ts' } });
  });

  it('fills parser defaults', () => {
    const cfg = (parser: string) => parse(withSource(`  - { type: serial, name: s, path: /dev/x, parser: ${parser} }`)).sources[0];
    expect(cfg('{ format: json }')).toMatchObject({ parser: { format: 'json', timestamp_field: 'ts' } });
    expect(cfg('{ format: kv }')).toMatchObject({ parser: { format: 'kv', separator: '=' } });
    expect(cfg('{ format: nmea }')).toMatchObject({ parser: { format: 'nmea', sentences: ['GGA', 'RMC', 'VTG'] } });
    expect(issuesOf(withSource('  - { type: serial, name: s, path: /dev/x, parser: { format: nmea, sentences: [GGA, XYZ] } }'))).toEqual([
      { path: 'sources[0].parser.sentences[1]', message: 'expected one of GGA | RMC | VTG, got "XYZ"', line: 3 },
    ]);
  });

  it('checks simulated sensors: max >= min, unique names, rate bounds', () => {
    const text = withSource(
      '  - { type: simulated, name: sim, rate_hz: 0, sensors: [{ name: t, shape: sine, min: 10, max: 0 }, { name: t, shape: zigzag }] }',
    );
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'sources[0].rate_hz: expected a number > 0 and <= 10000',
      'sources[0].sensors[0].max: max (0) is less than min (10)',
      'sources[0].sensors[1].shape: expected one of sine | square | random_walk | step | noise, got "zigzag"',
      'sources[0].sensors[1].name: duplicate sensor name "t" (also sensors[0])',
    ]);
  });

  it('checks gpio fields', () => {
    const text = withSource('  - { type: gpio, name: door, line: -1, sensor: "door open", bias: up }');
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'sources[0].line: expected a non-negative integer',
      expect.stringMatching(/^sources\[0\]\.sensor: invalid sensor name "door open"/),
      'sources[0].bias: expected one of as_is | pull_up | pull_down | disable, got "up"',
    ]);
  });

  it('checks uplink cross-field rules', () => {
    const text = MINIMAL.replace(
      'uplink: { url: "mqtt://localhost:1883" }',
      'uplink: { url: "mqtt://localhost:1883", tls: { ca: ca.pem }, reconnect_min_ms: 5000, reconnect_max_ms: 100 }',
    );
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'uplink.reconnect_max_ms: must be >= reconnect_min_ms (5000)',
      'uplink.tls: tls is set but url is mqtt:// (plain TCP); use mqtts:// for TLS',
    ]);
  });

  it('accepts sizes, durations and times in their human forms', () => {
    const c = parse(`${MINIMAL}buffer: { max_bytes: 1.5GiB, max_age: 36h }\nclock: { min_plausible_time: 2025-06-01 }\n`);
    expect(c.buffer.max_bytes).toBe(1_610_612_736);
    expect(c.buffer.max_age).toBe(36 * 3_600_000);
    expect(c.clock.min_plausible_time).toBe(Date.UTC(2025, 5, 1));
  });

  it('infers numbers from substituted values', () => {
    const text = withSource('  - { type: serial, name: s, path: /dev/x, baud_rate: "${BAUD:-9600}", parser: { format: json } }');
    // Quoted: stays a string, and the message says how to fix it.
    expect(issuesOf(text)[0]!.message).toBe('expected a positive integer, got "9600" (a quoted string; remove the quotes)');
    // Unquoted ${...} needs block style: in a flow mapping "{" would end the scalar.
    const plain = withSource('  - type: serial\n    name: s\n    path: /dev/x\n    baud_rate: ${BAUD:-9600}\n    parser: { format: json }');
    expect(parse(plain).sources[0]).toMatchObject({ baud_rate: 9600 });
    expect(parse(plain, { BAUD: '57600' }).sources[0]).toMatchObject({ baud_rate: 57600 });
    const flow = withSource('  - { type: serial, name: s, path: /dev/x, baud_rate: ${BAUD:-9600}, parser: { format: json } }');
    expect(issuesOf(flow)).toEqual([
      { path: '', message: expect.stringContaining('(inside [ ] or { }, a value using ${...} must be quoted)'), line: 3 },
      { path: '', message: expect.stringMatching(/^YAML syntax error: /), line: 4 },
    ]);
  });
});

describe('loadEdgeConfig', () => {
  it('resolves data_dir and TLS files against the config file directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-edge-config-'));
    const file = join(dir, 'edge.yaml');
    writeFileSync(
      file,
      MINIMAL.replace('mqtt://localhost:1883"', 'mqtts://localhost:8883", tls: { ca: certs/ca.pem, cert: /etc/c.pem, key: k.pem }') +
        'data_dir: state\n',
    );
    const c = loadEdgeConfig(file, {});
    expect(c.data_dir).toBe(join(dir, 'state'));
    expect(c.uplink.tls).toEqual({ ca: join(dir, 'certs/ca.pem'), cert: '/etc/c.pem', key: join(dir, 'k.pem'), reject_unauthorized: true });
  });

  it('throws a ConfigError for a missing file', () => {
    expect(() => loadEdgeConfig('/nonexistent/edge.yaml', {})).toThrow(/cannot read config file \/nonexistent\/edge\.yaml: ENOENT/);
  });
});
