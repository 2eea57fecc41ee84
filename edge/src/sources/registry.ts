// Maps a source config to its implementation. Adding a source type = a folder under sources/ + one case here.
import { ConfigError } from '@tidemark/shared';
import type { SourceConfig } from '../config.js';
import { GpioSource } from './gpio/gpio-source.js';
import { ModbusSource } from './modbus/modbus-source.js';
import { SerialSource } from './serial/serial-source.js';
import { SimulatedSource } from './simulated/simulated-source.js';
import type { Source, SourceContext } from './source.js';

export function createSource(config: SourceConfig, index: number, ctx: SourceContext): Source {
  switch (config.type) {
    case 'simulated':
      return new SimulatedSource(config, ctx);
    case 'gpio':
      return new GpioSource(config, ctx);
    case 'serial':
      return new SerialSource(config, ctx);
    case 'modbus':
      return new ModbusSource(config, ctx);
    default:
      throw new ConfigError([{ path: `sources[${index}].type`, message: `unknown source type` }]);
  }
}
