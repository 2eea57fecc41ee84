// What every test server (mosquitto, nats-server, …) shares: pick a port, start, wait until it really
// listens (failing fast with its output if it dies instead), retry once more on a port lost to a race,
// and stop / kill / restart on the same port.

import { describeExit, type ManagedProcess } from './managed-process.js';
import { freePort, tryConnect } from './ports.js';
import { waitFor } from './wait-for.js';

export interface ServerControl {
  /** The current process; a new one after restart(). */
  readonly process: ManagedProcess;
  /** SIGTERM, wait for exit. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL (whole process group), wait for exit. Idempotent. */
  kill(): Promise<void>;
  /** Stops the server if it runs, then starts it again with the same port and configuration. */
  restart(): Promise<void>;
}

export interface LaunchSpec {
  /** Used in messages: "mosquitto", "nats-server". */
  label: string;
  /** Starts one process listening on `port` (not yet ready). */
  spawn(port: number): ManagedProcess;
  /** Log line printed once the server accepts connections; absent = rely on the TCP check alone. */
  readyLine?: RegExp;
  /**
   * Log line printed once the server's event loop handled our probe connection. For servers that open
   * their port before they are fully started: a signal sent in that window may be lost.
   */
  probeHandledLine?: RegExp;
  timeoutMs?: number;
}

const PORT_TAKEN = /address already in use/i;
const ATTEMPTS_ON_FREE_PORT = 3;

/** Starts on `fixedPort`, or on a free port (retrying with another if it was taken in the meantime). */
export async function startServer(spec: LaunchSpec, fixedPort: number | undefined): Promise<{ port: number; control: ServerControl }> {
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      const proc = await launch(spec, port);
      return { port, control: controlFor(spec, port, proc) };
    } catch (err) {
      const raced = fixedPort === undefined && err instanceof ServerStartError && PORT_TAKEN.test(err.output);
      if (!raced || attempt >= ATTEMPTS_ON_FREE_PORT) throw err;
    }
  }
}

class ServerStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

async function launch(spec: LaunchSpec, port: number): Promise<ManagedProcess> {
  const timeoutMs = spec.timeoutMs ?? 15_000;
  const proc = spec.spawn(port);
  try {
    if (spec.readyLine) await proc.waitForOutput(spec.readyLine, timeoutMs);
    const state = await waitFor(
      async () => {
        if (!proc.running) return 'exited' as const;
        await tryConnect(port);
        return 'listening' as const;
      },
      { timeoutMs, description: `${spec.label} to listen on 127.0.0.1:${port}` },
    );
    if (state === 'exited') throw new Error('exited');
    if (spec.probeHandledLine) await proc.waitForOutput(spec.probeHandledLine, timeoutMs);
    return proc;
  } catch (err) {
    const hung = proc.running;
    const exit = await proc.sigkill();
    const how = hung ? 'did not become ready' : describeExit(exit);
    // A hang is explained by the timeout message; an exit by the output below.
    const reason = hung && err instanceof Error ? `: ${err.message.split(';')[0]}` : '';
    throw new ServerStartError(
      `${spec.label} on 127.0.0.1:${port} ${how}${reason}\n  command: ${proc.commandLine}\n  log: ${proc.logPath}\n  last output:\n${indent(lastLines(proc.output(), 30))}`,
      proc.output(),
    );
  }
}

function controlFor(spec: LaunchSpec, port: number, first: ManagedProcess): ServerControl {
  let current = first;
  return {
    get process() {
      return current;
    },
    async stop() {
      await current.kill('SIGTERM');
    },
    async kill() {
      await current.sigkill();
    },
    async restart() {
      await current.kill('SIGTERM');
      current = await launch(spec, port);
    },
  };
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.length === 0 ? '(no output)' : lines.slice(-n).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
