import { ConfigError, validateConfig } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { edgeConfigSchema } from '../../config.js';
import { modbusSourceSchema, modiconAddress } from './config.js';
import { interFrameDelayMs } from './rtu-timing.js';

const rtu = { type: 'modbus', name: 'line-2', transport: 'rtu', path: '/dev/ttyUSB0' } as const;
const tcp = { type: 'modbus', name: 'plc', transport: 'tcp', host: '10.0.0.5' } as const;
const slave = (registers: unknown[], extra: Record<string, unknown> = {}) => ({ id: 3, registers, ...extra });

function issues(doc: unknown): string[] {
  try {
    validateConfig(doc, modbusSourceSchema);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('modbus source config', () => {
  it('takes the SPEC example inside an edge config and fills defaults', () => {
    const edge = validateConfig(
      {
        device: { id: 'press-07' },
        uplink: { url: 'mqtt://localhost:1883' },
        sources: [
          {
            ...rtu,
            path: '/dev/serial/by-id/usb-RS485-if00',
            baud_rate: 19200,
            slaves: [
              {
                id: 3,
                poll_interval: '1s',
                timeout: '300ms',
                retries: 1,
                registers: [
                  { name: 'oil_temp_c', table: 'holding', address: 100, type: 'float32', word_order: 'CDAB' },
                  { name: 'motor_rpm', table: 'input', address: 7, type: 'uint16', scale: 0.1 },
                  { name: 'running', table: 'coil', address: 0 },
                ],
              },
            ],
          },
        ],
      },
      edgeConfigSchema,
    );
    expect(edge.sources[0]).toEqual({
      ...rtu,
      path: '/dev/serial/by-id/usb-RS485-if00',
      baud_rate: 19200,
      data_bits: 8,
      parity: 'even',
      stop_bits: 1,
      pause_after_connect: 0,
      reconnect_min_ms: 500,
      reconnect_max_ms: 10_000,
      slaves: [
        {
          id: 3,
          poll_interval: 1000,
          timeout: 300,
          retries: 1,
          max_gap: 0,
          max_registers_per_request: 125,
          modicon_check: true,
          registers: [
            { name: 'oil_temp_c', table: 'holding', address: 100, type: 'float32', word_order: 'CDAB', scale: 1, offset: 0 },
            { name: 'motor_rpm', table: 'input', address: 7, type: 'uint16', word_order: 'ABCD', scale: 0.1, offset: 0 },
            { name: 'running', table: 'coil', address: 0, type: 'bool', word_order: 'ABCD', scale: 1, offset: 0 },
          ],
        },
      ],
    });
  });

  it('fills TCP defaults and defaults register types by table', () => {
    const c = validateConfig({ ...tcp, slaves: [slave([{ name: 'a', table: 'holding', address: 0 }])] }, modbusSourceSchema);
    expect(c).toMatchObject({ transport: 'tcp', host: '10.0.0.5', port: 502, connect_timeout: 5000, pause_after_connect: 0 });
    expect(c.slaves[0]).toMatchObject({ poll_interval: 1000, timeout: 1000, retries: 1, registers: [{ type: 'uint16', word_order: 'ABCD' }] });
  });

  it('refuses 1-based Modicon addresses, naming the 0-based number to write', () => {
    expect(issues({ ...rtu, slaves: [slave([{ name: 'a', table: 'holding', address: 40101 }, { name: 'b', table: 'input', address: 300008 }])] })).toEqual([
      'slaves[0].registers[1].address: 300008 looks like a 1-based Modicon reference; addresses are 0-based register numbers within the input table: write address: 7',
      "slaves[0].registers[0].address: 40101 looks like a 1-based Modicon reference; addresses are 0-based register numbers within the holding table: write address: 100 (if 40101 really is the device's register number, set modicon_check: false on this slave)",
    ]);
    expect(modiconAddress('coil', 40101)).toBeUndefined();
    expect(modiconAddress('holding', 39999)).toBeUndefined();
    expect(modiconAddress('discrete', 10001)).toEqual({ meant: 0, digits: 5 });
  });

  it('takes 5-digit register numbers from devices that really use them (modicon_check: false), never 6-digit ones', () => {
    // SMA inverters, for one, number their input registers 30001 and up on the wire.
    const c = validateConfig({ ...tcp, slaves: [slave([{ name: 'power_w', table: 'input', address: 30775, type: 'int32' }], { modicon_check: false })] }, modbusSourceSchema);
    expect(c.slaves[0]!.registers[0]!.address).toBe(30775);
    expect(issues({ ...tcp, slaves: [slave([{ name: 'a', table: 'holding', address: 400101 }], { modicon_check: false })] })).toEqual([
      'slaves[0].registers[0].address: 400101 looks like a 1-based Modicon reference; addresses are 0-based register numbers within the holding table: write address: 100',
    ]);
  });

  it('reports overlaps, duplicates and bad combinations with their paths, all at once', () => {
    const got = issues({
      ...rtu,
      transport: 'rtu',
      slaves: [
        slave([
          { name: 'a', table: 'holding', address: 10, type: 'float64' },
          { name: 'b', table: 'holding', address: 12, type: 'uint16' },
          { name: 'c', table: 'input', address: 12 },
          { name: 'd', table: 'coil', address: 1, type: 'int16' },
          { name: 'e', table: 'holding', address: 65535, type: 'uint32' },
        ]),
        slave([{ name: 'a', table: 'coil', address: 0 }]),
        { id: 0, registers: [] },
      ],
    });
    expect(got).toEqual([
      'slaves[0].registers[3].type: the coil table holds single bits: type must be bool (or left out)',
      'slaves[0].registers[4].address: a uint32 at 65535 runs past the last register (65535)',
      'slaves[0].registers[1].address: b (holding 12) overlaps a (registers[0], holding 10..13)',
      'slaves[2].id: expected an integer from 1 to 247',
      'slaves[2].registers: list at least one register',
      'slaves[1].id: duplicate slave id "3" (also slaves[0])',
      'slaves[1].registers[0].name: duplicate register name "a" (also slaves[0].registers[0])',
    ]);
  });

  it('keeps transport keys apart and names what is missing', () => {
    expect(issues({ ...tcp, baud_rate: 9600, slaves: [slave([{ name: 'a', table: 'coil', address: 0 }])] })).toEqual(['baud_rate: unknown key "baud_rate"']);
    expect(issues({ type: 'modbus', name: 'x', slaves: [] })[0]).toMatch(/^transport: required \(one of rtu \| tcp\)/);
    expect(issues({ ...rtu, path: undefined, slaves: [slave([{ name: 'a', table: 'coil', address: 0 }], { word_order: 'CDAB' })] })).toEqual([
      'path: required',
      'slaves[0].word_order: unknown key "word_order"',
    ]);
    expect(issues({ ...rtu, slaves: [slave([{ name: 'a', table: 'holding', address: 0, word_order: 'ABDC' }])] })[0]).toMatch(
      /^slaves\[0\]\.registers\[0\]\.word_order: expected one of ABCD \| CDAB \| BADC \| DCBA/,
    );
  });

  it('computes the RTU inter-frame silence (3.5 characters, 1.75 ms above 19200 baud)', () => {
    expect(interFrameDelayMs({ baud_rate: 9600, data_bits: 8, parity: 'even', stop_bits: 1 })).toBeCloseTo(4.01, 2);
    expect(interFrameDelayMs({ baud_rate: 115200, data_bits: 8, parity: 'none', stop_bits: 1 })).toBe(1.75);
    expect(interFrameDelayMs({ baud_rate: 9600, data_bits: 8, parity: 'none', stop_bits: 1, inter_frame_delay: 20 })).toBe(20);
  });
});
