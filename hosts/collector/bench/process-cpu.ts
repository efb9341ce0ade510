/**
 * CPU time of another process and the children it has (Linux /proc, proc(5)): what the broker and
 * the database server spend on the benchmark's messages, beside the collector's own
 * process.cpuUsage(). A parent's cutime/cstime hold the CPU of its children it has waited for, so a
 * PostgreSQL backend that ended with its connection still counts (through the postmaster).
 *
 * Clock ticks are 10 ms on Linux (USER_HZ 100): figures are meant for runs of seconds.
 */
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc/<pid>/stat's times (100 on every Linux architecture's ABI). */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, ticks. */
  readonly own: number;
  /** cutime + cstime, ticks. */
  readonly children: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone, or not Linux
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields count from its end.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  return { ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
}

/**
 * CPU seconds used so far by process `pid`, its live children and the children it reaped;
 * undefined when it is not running (or /proc is not there).
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const root = readStat(pid);
  if (!root) return undefined;
  let ticks = root.own + root.children;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const child = Number(entry);
    if (child === pid) continue;
    const stat = readStat(child);
    if (stat?.ppid === pid) ticks += stat.own;
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * CPU seconds the whole machine has been busy (every core, every process: /proc/stat's first
 * line, all but idle and iowait), to tell how much of a run's CPU went to processes outside it.
 */
export function machineBusySeconds(): number | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/stat", "utf8");
  } catch {
    return undefined;
  }
  const fields = text.slice(0, text.indexOf("\n")).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}
