/** Globals that xsnap-worker defines for the code it runs (xsnap-worker.c, xsBuildAgent). */
declare global {
  /** Sends bytes to the host and blocks until it answers. */
  function issueCommand(message: ArrayBuffer): ArrayBuffer;
  /** Runs a full garbage collection. */
  function gc(): void;
  /** Writes its arguments to the worker's stdout. */
  function print(...values: unknown[]): void;
  /** Sets the meter limit and index; returns the meter before the reset. */
  function resetMeter(limit: number, index: number): number;
  /** The handler the host's `?` commands call; set by the entry module. */
  var handleCommand: (message: ArrayBuffer) => ArrayBuffer;
}
export {};
