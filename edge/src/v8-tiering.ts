// V8's tiers for the long-running agent (`tidemark-edge run`), issue 12. Its code runs tens of times a second
// in small pieces (a serial read every 20 ms, a batch every ~100 ms), so V8's optimizing compiler (TurboFan)
// kept compiling it on worker threads, discarding and recompiling, for as long as the agent ran: in the
// footprint benchmark that was ~14 % of the agent's CPU (worker threads, and ~180 page faults a second for
// the compiler's memory) and ~7 MB of RSS, for no gain on the main thread. Without it, code runs in V8's
// baseline tier (Sparkplug); the in-process hot path still does ~490k readings/s (828k optimized), far above
// what a gateway feeds the agent. TIDEMARK_EDGE_OPTIMIZER=on keeps the optimizing compiler.
import { setFlagsFromString } from 'node:v8';

/** The environment variable that keeps V8's optimizing compiler in `run`: `TIDEMARK_EDGE_OPTIMIZER=on`. */
export const OPTIMIZER_ENV = 'TIDEMARK_EDGE_OPTIMIZER';

/**
 * Turns the optimizing compiler off for this process unless `TIDEMARK_EDGE_OPTIMIZER=on`; returns the tiers
 * in use. Call before the agent's code runs (`--no-opt` only stops future tier-ups: nothing is optimized yet).
 */
export function agentTiering(env: NodeJS.ProcessEnv = process.env): 'baseline' | 'optimizing' {
  if (env[OPTIMIZER_ENV] === 'on') return 'optimizing';
  setFlagsFromString('--no-opt');
  return 'baseline';
}
