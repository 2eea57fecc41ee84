// Helpers for tests that start real processes: ports, polling with deadlines, managed child processes
// with a reaper that keeps logs on failure, temp dirs, virtual serial ports, private MQTT/NATS servers.

export { waitFor, type WaitForOptions } from './wait-for.js';
export { freePort, waitForPort } from './ports.js';
export { spawnProcess, reapAll, type ManagedProcess, type SpawnOptions, type ExitState } from './managed-process.js';
export { useProcessReaper, type ProcessReaperOptions } from './process-reaper.js';
export { makeTempDir, removeTempDirs } from './temp-dirs.js';
export { requireTool, findTool } from './require-tool.js';
export { openPtyPair, openPtyAtPath, type PtyPair, type PtyLink } from './pty-pair.js';
export type { ServerControl } from './server-process.js';
export { startMosquitto, type MosquittoOptions, type MosquittoServer } from './mosquitto.js';
export { startNatsServer, startNatsCluster, type NatsServerOptions, type NatsServer, type NatsClusterOptions, type NatsCluster } from './nats-server.js';
export { makeCerts, type TestCerts } from './certs.js';
export { sampleSum } from './prometheus-text.js';
