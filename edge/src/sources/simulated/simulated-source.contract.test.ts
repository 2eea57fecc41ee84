import { describeSourceContract } from '../testing/source-contract.js';
import { SimulatedSource } from './simulated-source.js';

describeSourceContract('simulated', async (ctx) => ({
  source: new SimulatedSource(
    { type: 'simulated', name: 'sim', rate_hz: 100, seed: 1, sensors: [{ name: 'temp_c', shape: 'sine', min: 0, max: 1, period_s: 60, decimals: 2 }] },
    ctx,
  ),
  // The simulated source produces input on its own once started.
  stimulate: async () => {},
  cleanup: async () => {},
}));
