// RTU line timing, kept out of config.ts so the agent's runtime never loads zod (config.ts builds schemas).
import type { ModbusRtuConfig } from './config.js';

/** The inter-frame silence the Modbus serial line spec asks for: 3.5 character times, 1.75 ms above 19200 baud. */
export function interFrameDelayMs(c: Pick<ModbusRtuConfig, 'baud_rate' | 'data_bits' | 'parity' | 'stop_bits' | 'inter_frame_delay'>): number {
  if (c.inter_frame_delay !== undefined) return c.inter_frame_delay;
  if (c.baud_rate > 19_200) return 1.75;
  const bitsPerChar = 1 + c.data_bits + (c.parity === 'none' ? 0 : 1) + c.stop_bits;
  return (3.5 * bitsPerChar * 1000) / c.baud_rate;
}
