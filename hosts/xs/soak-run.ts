/**
 * The soak: the reference node for weeks of simulated time with faults on, run inside XS where its
 * meter tells whether the heap stays flat (hosts/xs/soak.ts, test/hosts/xs/soak.test.ts).
 *
 * The board plays back what the simulated street's parts said (bus-recording.ts), so the run meters
 * the firmware, with bus-level faults on top (faulty-buses.ts). Every day brings, at seeded times:
 * a broker outage (10 minutes to 8 hours; one day of 14 hours, beyond the queue's flash budget, so
 * drops happen and are counted), on half the days a flash that refuses writes for 20 minutes
 * (ENOSPC), and an SNTP correction that sets the clock back 1.5 s one second into a window (whose
 * readings are then discarded). Every outage ends before 23:00,
 * so the queue is empty at midnight, when the heap is measured. An hour after each outage, the
 * queue must be empty again.
 */
import type { BusKind } from "../sim/faulty-buses.js";
import { FaultyStore } from "../sim/faulty-store.js";
import { MemoryStore } from "../sim/memory-store.js";
import { Prng } from "../sim/prng.js";
import { NodeRun } from "./workloads.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * What "a flat heap" means for the soak: measured at each midnight after the warm-up (the third
 * day's long outage fills the store's table to its largest), the live slots stay within a band of
 * a few slots. The band is what the simulated radio's bookkeeping moves at midnight (a scan the
 * driver restarted during a silent episode: ±7 slots measured); a leak of one slot per hour would
 * be 24 a day.
 */
export const SOAK_LIMITS = { WARM_UP_DAYS: 3, HEAP_WOBBLE_SLOTS: 16 } as const;

export interface SoakOptions {
  readonly device: string;
  readonly street: string;
  readonly rootKey: Uint8Array;
  /** Wall time at boot: a UTC midnight. */
  readonly startWallMs: number;
  readonly seed: string;
  /** Mean simulated hours between fault episodes on each bus. */
  readonly busFaultHours: number;
  /** The kinds of bus that fault (all by default). */
  readonly faultyBuses?: readonly BusKind[];
  /** The day (1-based) whose outage outlasts the queue's budget. */
  readonly longOutageDay?: number;
  /** Which daily faults to inject (all by default): to see what a figure owes to which. */
  readonly outages?: boolean;
  readonly storeFaults?: boolean;
  readonly clockCorrections?: boolean;
}

export interface SoakStats {
  readonly days: number;
  readonly windowsClosed: number;
  readonly summariesSealed: number;
  readonly healthReportsSealed: number;
  readonly sealFailures: number;
  /** Messages the transport took (acknowledged at once when connected). */
  readonly messages: number;
  readonly outages: number;
  readonly outageHours: number;
  readonly longestOutageHours: number;
  /** Outages after which the queue was not empty an hour later: must be 0. */
  readonly undrained: number;
  readonly queueDepth: number;
  readonly peakQueueDepth: number;
  readonly peakQueueBytes: number;
  /** The queue's peak during the latest day. */
  readonly dayPeakQueueDepth: number;
  readonly dayPeakQueueBytes: number;
  readonly dropped: number;
  readonly storeErrors: number;
  readonly busFaultEpisodes: number;
  readonly sensorsFaulty: number;
  readonly clockBehind: number;
  readonly windowsDiscarded: number;
}

export class SoakRun {
  readonly #run: NodeRun;
  readonly #store: FaultyStore;
  readonly #random: Prng;
  readonly #longOutageDay: number;
  readonly #faults: { readonly outages: boolean; readonly store: boolean; readonly clock: boolean };
  #days = 0;
  #outages = 0;
  #outageMs = 0;
  #longestOutageMs = 0;
  #undrained = 0;
  #peakDepth = 0;
  #peakBytes = 0;
  #dayPeakDepth = 0;
  #dayPeakBytes = 0;

  constructor(options: SoakOptions) {
    this.#store = new FaultyStore(new MemoryStore());
    this.#random = new Prng(`${options.seed}/soak`);
    this.#longOutageDay = options.longOutageDay ?? 3;
    this.#faults = { outages: options.outages ?? true, store: options.storeFaults ?? true, clock: options.clockCorrections ?? true };
    this.#run = new NodeRun({
      device: options.device,
      street: options.street,
      rootKey: options.rootKey,
      startWallMs: options.startWallMs,
      source: "recorded",
      store: this.#store,
      ...(options.busFaultHours > 0 ? { busFaults: { seed: `${options.seed}/buses`, meanHoursBetween: options.busFaultHours, ...(options.faultyBuses ? { buses: options.faultyBuses } : {}) } } : {}),
    });
  }

  /** Runs one more simulated day, with that day's faults. */
  advanceDay(): SoakStats {
    const { clock, transport, node } = this.#run;
    const dayStart = clock.monotonicMs();
    this.#days++;
    // The outage: it starts between 01:00 and 08:00 and ends before 23:00.
    const long = this.#days === this.#longOutageDay;
    const outageMs = long ? 14 * HOUR_MS : Math.exp(this.#random.range(Math.log(10 / 60), Math.log(8))) * HOUR_MS;
    const outageStart = dayStart + this.#random.range(1, long ? 8 : Math.min(8, 22 - outageMs / HOUR_MS)) * HOUR_MS;
    if (this.#faults.outages) clock.once(() => transport.setConnected(false), outageStart - clock.monotonicMs());
    if (this.#faults.outages) clock.once(() => {
      transport.setConnected(true);
      this.#outages++;
      this.#outageMs += outageMs;
      this.#longestOutageMs = Math.max(this.#longestOutageMs, outageMs);
      clock.once(() => {
        if (node.outbox.depth > 0) this.#undrained++;
      }, HOUR_MS);
    }, outageStart + outageMs - clock.monotonicMs());
    // A flash that refuses writes for 20 minutes, on about half the days.
    if (this.#random.chance(0.5) && this.#faults.store) {
      const at = dayStart + this.#random.range(1, 22) * HOUR_MS;
      clock.once(() => this.#store.failWrites("ENOSPC"), at - clock.monotonicMs());
      clock.once(() => this.#store.failWrites(undefined), at + 20 * 60_000 - clock.monotonicMs());
    }
    // SNTP sets the clock back by 1.5 s once a day, one second into a window: the window's first
    // readings were timed by a clock now known wrong, so the node discards them.
    const correction = dayStart + this.#random.range(1, 23) * HOUR_MS;
    if (this.#faults.clock) clock.once(() => {
      const windowMs = node.windowSeconds * 1000;
      const intoWindow = clock.wallMs() % windowMs;
      clock.once(() => clock.setWall(clock.wallMs() - 1500), (windowMs - intoWindow + 1000) % windowMs || windowMs);
    }, correction - clock.monotonicMs());
    // Advance in steps, to see the queue's peak.
    this.#dayPeakDepth = 0;
    this.#dayPeakBytes = 0;
    for (let step = 0; step < 96; step++) {
      this.#run.advance(DAY_MS / 96);
      this.#dayPeakDepth = Math.max(this.#dayPeakDepth, node.outbox.depth);
      this.#dayPeakBytes = Math.max(this.#dayPeakBytes, node.outbox.storedBytes);
    }
    this.#peakDepth = Math.max(this.#peakDepth, this.#dayPeakDepth);
    this.#peakBytes = Math.max(this.#peakBytes, this.#dayPeakBytes);
    return this.stats();
  }

  /**
   * Before the heap is measured: timers cleared by the simulation (a scanner the driver restarted
   * stops its playback's timer) wait in the clock's queue until they would have fired, holding
   * what they reference; taken out now, the count is that of what lives.
   */
  settleForMeasure(): void {
    this.#run.clock.purgeCleared();
  }

  stats(): SoakStats {
    const { node, transport } = this.#run;
    return {
      days: this.#days,
      windowsClosed: node.stats.windowsClosed,
      summariesSealed: node.stats.summariesSealed,
      healthReportsSealed: node.stats.healthReportsSealed,
      sealFailures: node.stats.sealFailures,
      messages: transport.messageCount,
      outages: this.#outages,
      outageHours: Math.round((this.#outageMs / HOUR_MS) * 10) / 10,
      longestOutageHours: Math.round((this.#longestOutageMs / HOUR_MS) * 10) / 10,
      undrained: this.#undrained,
      queueDepth: node.outbox.depth,
      peakQueueDepth: this.#peakDepth,
      peakQueueBytes: this.#peakBytes,
      dayPeakQueueDepth: this.#dayPeakDepth,
      dayPeakQueueBytes: this.#dayPeakBytes,
      dropped: node.outbox.stats.dropped,
      storeErrors: node.storeErrors,
      busFaultEpisodes: this.#run.busFaults?.episodes ?? 0,
      sensorsFaulty: node.sensors.filter((sensor) => sensor.health.faulty).length,
      clockBehind: node.stats.clockBehind,
      windowsDiscarded: node.stats.windowsDiscarded,
    };
  }
}
