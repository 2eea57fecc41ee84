// Child process for edge-pipeline.bench.ts: the memory an agent needs with a large buffer. Plain Node on
// the built package (no transpiler in the process): it loads the whole agent (MQTT, fastify, serialport,
// SQLite), opens the buffer, reads its stats and walks every sealed batch the way the sender does
// (8 at a time), then prints its RSS as JSON.
import { SqliteBuffer } from '@tidemark/edge';

const [path, device] = process.argv.slice(2);
const buffer = SqliteBuffer.open({ path, deviceId: device });
const stats = buffer.stats();
let cursor = 0;
let walked = 0;
for (;;) {
  const window = buffer.batchesAfter(cursor, 8);
  if (window.length === 0) break;
  walked += window.length;
  cursor = window[window.length - 1].seq;
}
globalThis.gc?.();
const mem = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({ buffered_readings: stats.bufferedReadings, walked_batches: walked, rss_mb: Number((mem.rss / 2 ** 20).toFixed(1)), heap_used_mb: Number((mem.heapUsed / 2 ** 20).toFixed(1)) })}\n`,
);
buffer.close();
