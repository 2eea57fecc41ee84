import { describeSourceContract } from '../testing/source-contract.js';
import { fakeLine, fakeLines, fakeLineKey } from './fake-driver.js';
import { GpioSource } from './gpio-source.js';

let n = 0;

describeSourceContract('gpio (fake)', async (ctx) => {
  const chip = `contract${++n}`;
  const source = new GpioSource(
    { type: 'gpio', name: 'door', chip, line: 17, sensor: 'door_open', debounce_ms: 0, active_low: false, bias: 'as_is', driver: 'fake' },
    ctx,
  );
  return {
    source,
    stimulate: async () => {
      const line = fakeLine(chip, 17);
      line.set(line.level === 1 ? 0 : 1);
    },
    cleanup: async () => {
      fakeLines.delete(fakeLineKey(chip, 17));
    },
  };
});
