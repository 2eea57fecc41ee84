// CPU accounting for benchmarks on a shared machine: CPU time of chosen processes (all their threads) and of
// the whole machine over an interval, from /proc, so every result can say what else was running.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

/** utime + stime of a process (all its threads) in ms, from /proc/<pid>/stat; NaN once it is gone. */
export function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.NaN; // the process is gone (the caller's exit handler reports why)
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU time the whole machine spent busy (every core; idle and iowait excluded), in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK;
}

export class Meter {
  private readonly t0 = performance.now();
  private readonly c0: number[];
  private readonly m0 = machineBusyMs();
  constructor(private readonly pids: number[]) {
    this.c0 = pids.map(cpuMs);
  }
  /** CPU% of each process over the interval (100 = one core fully busy), then everything else on the machine. */
  read(): { ours: number[]; oursMs: number[]; others: number; wallMs: number } {
    const wall = performance.now() - this.t0;
    const used = this.pids.map((pid, i) => cpuMs(pid) - this.c0[i]!);
    const others = machineBusyMs() - this.m0 - used.reduce((a, b) => a + b, 0);
    return { ours: used.map((ms) => Math.round((100 * ms) / wall)), oursMs: used, others: Math.max(0, Math.round((100 * others) / wall)), wallMs: wall };
  }
}
