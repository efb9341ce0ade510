declare module "time" {
  const Time: {
    /** Sets the wall clock (Unix seconds). */
    set(seconds: number): void;
    /** Milliseconds from an arbitrary origin, monotonic; wraps on some platforms (use `delta`). */
    readonly ticks: number;
    /** `end - start` in ms, correct across a wrap of `ticks`. */
    delta(start: number, end?: number): number;
  };
  export { Time as default };
}
