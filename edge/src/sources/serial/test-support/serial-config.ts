// A complete serial source config for tests, through the real schema (so defaults are the product's).
import { validateConfig } from '@tidemark/shared/config';
import { serialSourceSchema, type SerialSourceConfig } from '../config.js';

export function serialConfig(path: string, overrides: Record<string, unknown> = {}): SerialSourceConfig {
  return validateConfig(
    {
      type: 'serial',
      name: 'plc',
      path,
      baud_rate: 115200,
      parser: { format: 'csv', columns: ['temp_c', 'pressure_kpa'] },
      ...overrides,
    },
    serialSourceSchema,
  );
}
