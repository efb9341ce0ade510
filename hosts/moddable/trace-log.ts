/**
 * The node's log on Moddable: one line per event through `trace` (the serial console, or xsbug;
 * stdout in the desktop simulator). Debug lines are left out unless asked for: the serial console
 * is slow, and the node logs every sealed message at info level.
 */
import type { Log, LogDetail, LogLevel } from "../../src/platform.js";

export function traceLog(withDebug: boolean): Log {
  return (level: LogLevel, event: string, detail?: LogDetail) => {
    if (level === "debug" && !withDebug) return;
    trace(`${level} ${event}${detail ? ` ${JSON.stringify(detail)}` : ""}\n`);
  };
}
