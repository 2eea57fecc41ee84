// Child process for volatile-crash.test.ts: like crash-writer.ts, but most of the queue leaves as volatile
// batches (sealVolatile: sealed and "sent" without a write) that it acks at random, with group commits (which
// store what is still volatile) in between, until it is SIGKILLed. It reports on stdout, one line each, only
// AFTER the operation returned (stdout to a pipe is synchronous on Linux, so a line seen means done):
//   c <n>                     every reading up to n is committed, and every volatile batch not acked is stored
//   v <seq> <first> <last>    batch seq, readings first..last, was sealed volatile (and would be sent now)
//   r <seq> <first> <last>    about to ack (remove) batch seq holding readings first..last (may or may not happen)
// Usage: volatile-crash-writer <buffer path> <device id> <first number> <random seed>
import { decodeBatch } from '@tidemark/proto';
import { crashWriterStart, numbered, syncedFor } from './buffer-fixtures.js';

function main(): void {
  const { buffer, encode, first, rand } = crashWriterStart('volatile-crash-writer');
  let n = first - 1;
  process.stdout.write('ready\n');
  for (;;) {
    const count = 1 + rand(8);
    const readings = [];
    for (let i = 0; i < count; i++) readings.push(numbered(++n, syncedFor(n)));
    buffer.append(readings);
    const sealed = rand(4) === 0 ? [] : buffer.sealVolatile(1 + rand(20), encode, Date.now());
    if (sealed.length === 0) {
      buffer.commit(); // committed readings pending, or a commit tick
      process.stdout.write(`c ${n}\n`);
    }
    for (const b of sealed) {
      const values = decodeBatch(b.payload).readings.map((r) => r.value);
      process.stdout.write(`v ${b.seq} ${values[0]} ${values[values.length - 1]}\n`);
    }
    // Committed readings keep the queue from going volatile (they are older): seal them, often all at once.
    if (rand(2) === 0) while (buffer.seal(1 + rand(20), encode, Date.now()));
    else if (rand(3) === 0) buffer.seal(1 + rand(20), encode, Date.now());
    if (rand(2) === 0) {
      const all = buffer.batchesAfter(0, 1000);
      const pick = all[rand(Math.max(1, all.length))];
      if (pick) {
        const values = decodeBatch(pick.payload).readings.map((r) => r.value);
        process.stdout.write(`r ${pick.seq} ${values[0]} ${values[values.length - 1]}\n`);
        buffer.remove(pick.seq);
      }
    }
  }
}

main();
