import { describeOutboxContract } from '../outbox.contract.js';
import { MemoryOutbox } from './memory-outbox.js';

describeOutboxContract('MemoryOutbox', async () => {
  const outbox = new MemoryOutbox();
  return {
    outbox,
    add: (t, notifiers, createdAt) => outbox.add(t, notifiers, createdAt),
    cleanup: async () => {
      if (outbox.violations.length > 0) throw new Error(`outbox misuse: ${outbox.violations.join('; ')}`);
    },
  };
}, { persistent: false });
