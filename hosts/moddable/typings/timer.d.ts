declare module "timer" {
  export type TimerCallback = (timer: Timer) => void;
  class Timer {
    private constructor();
    private brand: boolean;
    /** Calls `callback` after `interval` ms, then every `repeat` ms when given. */
    static set(callback: TimerCallback, interval?: number, repeat?: number): Timer;
    static repeat(callback: TimerCallback, interval: number): Timer;
    static clear(timer: Timer | undefined | null): void;
  }
  export { Timer as default };
}
