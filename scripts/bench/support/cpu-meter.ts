// CPU accounting for benchmarks on a shared machine: CPU time of chosen processes (all their threads) and of
// the whole machine over an interval, from /proc, so every result can say what else was running.
import { readdirSync, readFileSync } from 'node:fs';
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

/** One thread of a process: its name, CPU time in ms and context switches, from /proc/<pid>/task/<tid>/. */
export interface ThreadSample {
  tid: number;
  comm: string;
  userMs: number;
  sysMs: number;
  /** Times the thread blocked (slept) and was woken again: one per wake-up. */
  voluntary: number;
  /** Times it was preempted while runnable. */
  nonvoluntary: number;
  /** Time on a CPU in ms from /proc/…/schedstat: exact, where utime and stime are sampled at each tick. */
  runMs: number;
}

/** Every thread of `pid` now (threads that end between reads are skipped); [] once the process is gone. */
export function threadSamples(pid: number): ThreadSample[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadSample[] = [];
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const schedstat = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({
        tid: Number(t),
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        userMs: (Number(f[11]) * 1000) / CLK_TCK,
        sysMs: (Number(f[12]) * 1000) / CLK_TCK,
        voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        nonvoluntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        runMs: Number(schedstat.split(' ')[0]) / 1e6,
      });
    } catch {
      /* the thread ended between readdir and read */
    }
  }
  return out;
}

/**
 * Per thread between two samples of one process: `main` (the process's first thread), then the others by
 * name and order of birth (Node 20 leaves every thread named `node`: `node#1` … are V8's platform workers,
 * then libuv's pool once used, in creation order). For each: CPU % of a core by tick sampling (utime+stime,
 * as cpu_pct), by the scheduler's exact run time (run_pct) and wake-ups (voluntary context switches) per
 * second. Threads with neither CPU nor wake-ups in the window are left out; a thread born in between counts
 * from zero.
 */
export function threadDelta(pid: number, a: ThreadSample[], b: ThreadSample[], wallMs: number): Record<string, { cpu_pct: number; run_pct: number; wakeups_per_s: number }> {
  const before = new Map(a.map((t) => [t.tid, t]));
  const out: Record<string, { cpu_pct: number; run_pct: number; wakeups_per_s: number }> = {};
  const seen = new Map<string, number>();
  for (const t of [...b].sort((x, y) => x.tid - y.tid)) {
    const t0 = before.get(t.tid);
    const n = seen.get(t.comm) ?? 0;
    seen.set(t.comm, n + 1);
    const name = t.tid === pid ? 'main' : `${t.comm}#${n}`;
    const ms = t.userMs + t.sysMs - (t0 ? t0.userMs + t0.sysMs : 0);
    const run = t.runMs - (t0?.runMs ?? 0);
    const vol = t.voluntary - (t0?.voluntary ?? 0);
    if (ms === 0 && vol === 0 && run < 1) continue;
    out[name] = { cpu_pct: Number(((100 * ms) / wallMs).toFixed(2)), run_pct: Number(((100 * run) / wallMs).toFixed(2)), wakeups_per_s: Number(((1000 * vol) / wallMs).toFixed(1)) };
  }
  return out;
}
