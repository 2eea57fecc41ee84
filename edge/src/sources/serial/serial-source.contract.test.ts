import fs from 'node:fs';
import { openPtyPair, requireTool, useProcessReaper } from '@tidemark/shared/testing';
import { describeSourceContract } from '../testing/source-contract.js';
import { SerialSource } from './serial-source.js';
import { serialConfig } from './test-support/serial-config.js';

requireTool('socat', 'socat');
useProcessReaper();

// The source opens end a of a real pty pair; the test plays the device on end b.
describeSourceContract('serial', async (ctx) => {
  const pty = await openPtyPair();
  return {
    source: new SerialSource(serialConfig(pty.a), ctx),
    // The leading line end closes the (empty) head that follows every connect; see line-framer.ts.
    stimulate: async () => fs.promises.writeFile(pty.b, '\n21.5,101.3\n'),
    cleanup: () => pty.close(),
  };
});
