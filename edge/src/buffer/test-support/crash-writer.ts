// Child process for crash.test.ts: writes numbered readings into a buffer as fast as it can, sealing and
// removing (as if acked) batches along the way, until it is SIGKILLed. It reports on stdout, one line each,
// only AFTER the operation returned (stdout to a pipe is synchronous on Linux, so a line seen means done):
//   c <n>                     readings up to number n are committed
//   r <seq> <first> <last>    about to remove batch seq holding readings first..last (may or may not happen)
// Usage: crash-writer <buffer path> <device id> <first number> <random seed>
import { decodeBatch } from '@tidemark/proto';
import { crashWriterStart, numbered, syncedFor } from './buffer-fixtures.js';

function main(): void {
  const { buffer, encode, first, rand } = crashWriterStart('crash-writer');
  let n = first - 1;
  process.stdout.write('ready\n');
  for (;;) {
    const count = 1 + rand(8);
    const readings = [];
    for (let i = 0; i < count; i++) readings.push(numbered(++n, syncedFor(n)));
    buffer.append(readings);
    buffer.commit();
    process.stdout.write(`c ${n}\n`);
    if (rand(3) === 0) buffer.seal(1 + rand(20), encode, Date.now());
    if (rand(4) === 0) {
      const oldest = buffer.batchesAfter(0, 1)[0];
      if (oldest) {
        const values = decodeBatch(oldest.payload).readings.map((r) => r.value);
        process.stdout.write(`r ${oldest.seq} ${values[0]} ${values[values.length - 1]}\n`);
        buffer.remove(oldest.seq);
      }
    }
  }
}

main();
