/**
 * The fault campaign's scenarios: what goes wrong in a street, when, and for how long, in simulated
 * hours from the start. Every random choice draws from the scenario's seeded stream, so a run with
 * the same seed repeats its faults (the network's real-time timing, and with it which message is
 * in flight at a cut, still varies).
 *
 * Two forms: "short" (CI: a few simulated hours per scenario, four nodes) and "full" (hours-long
 * outages, beyond the queue's budget, eight nodes; docs/reliability.md gives its figures).
 */
import type { Prng } from "../../sim/prng.js";

export type BrokerKind = "aedes" | "mosquitto";
export type CampaignForm = "short" | "full";

/** What a scenario can do to the street while it runs. */
export interface FaultControls {
  readonly random: Prng;
  readonly devices: readonly string[];
  /** Runs `action` at simulated hour `hour` from the start. */
  at(hour: number, action: () => void | Promise<void>): void;
  linkDown(): void;
  linkUp(): void;
  /** Cuts a node's power now, or at its next store commit (`midWrite`: that commit reaches flash or not, at random). */
  powerCut(device: string, midWrite: boolean): void;
  powerOn(device: string): void;
  /** Moves the street's wall clock (SNTP correcting it; a host resuming another time). */
  jumpClock(deltaMs: number): void;
  failNodeDisk(device: string, code: string | undefined): void;
  failCollectorDisk(code: string | undefined): void;
  /** Stops the collector and starts it again on the same files `awayHours` later. */
  restartCollector(awayHours: number): void;
  /** Stops the broker as an operator would and starts it again (Mosquitto only). */
  restartBroker(): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  /** What the scenario does, for the table's legend. */
  readonly description: string;
  /** Simulated hours of the scenario before the street is brought back and drained. */
  readonly hours: number;
  /** Mean simulated hours between sensor fault episodes per part (0: none). */
  readonly sensorFaultHours: number;
  /** The brokers it runs against. */
  readonly brokers: readonly BrokerKind[];
  plan(controls: FaultControls): void;
}

const BOTH: readonly BrokerKind[] = ["aedes", "mosquitto"];

/** Outages of `lengths` hours, one after another with an hour between them, from hour 1. */
function outages(controls: FaultControls, lengths: readonly number[]): void {
  let hour = 1;
  for (const length of lengths) {
    controls.at(hour, () => controls.linkDown());
    controls.at(hour + length, () => controls.linkUp());
    hour += length + 1;
  }
}

/** The link goes up and down at random for `hours` from `from`, each state lasting 2 to `maxMinutes` minutes. */
function flapping(controls: FaultControls, from: number, hours: number, maxMinutes: number): void {
  let hour = from;
  let down = false;
  while (hour < from + hours) {
    const flip = down;
    controls.at(hour, () => (flip ? controls.linkUp() : controls.linkDown()));
    down = !down;
    hour += controls.random.range(2, maxMinutes) / 60;
  }
  controls.at(from + hours, () => controls.linkUp());
}

/** `count` power cuts at random instants in [from, until), half of them at a store commit, each off 1 to 30 minutes. */
function powerCuts(controls: FaultControls, count: number, from: number, until: number, devices = controls.devices): void {
  for (let i = 0; i < count; i++) {
    const device = devices[controls.random.int(0, devices.length)]!;
    const hour = controls.random.range(from, until);
    const midWrite = i % 2 === 0;
    controls.at(hour, () => controls.powerCut(device, midWrite));
    controls.at(hour + controls.random.range(1, 30) / 60, () => controls.powerOn(device));
  }
}

function clockJumps(controls: FaultControls, jumps: ReadonlyArray<readonly [hour: number, minutes: number]>): void {
  for (const [hour, minutes] of jumps) controls.at(hour, () => controls.jumpClock(minutes * 60_000));
}

export function campaignScenarios(form: CampaignForm): Scenario[] {
  const full = form === "full";
  return [
    {
      name: "outage",
      description: full ? "link down 30 min, 4 h, 9 h (within the queue's budget), 20 h (beyond it)" : "link down 2 h",
      hours: full ? 40 : 4,
      sensorFaultHours: 0,
      brokers: BOTH,
      plan: (c) => outages(c, full ? [0.5, 4, 9, 20] : [2]),
    },
    {
      name: "flapping",
      description: full ? "link up and down every 2-20 min for 8 h" : "link up and down every 2-15 min for 2 h",
      hours: full ? 10 : 3,
      sensorFaultHours: 0,
      brokers: full ? BOTH : ["aedes"],
      plan: (c) => flapping(c, 0.5, full ? 8 : 2, full ? 20 : 15),
    },
    {
      name: "collector-restarts",
      description: full ? "collector away 10 min, 1 h, 3 h; broker restarted twice (Mosquitto)" : "collector away 40 min; broker restarted (Mosquitto)",
      hours: full ? 10 : 3,
      sensorFaultHours: 0,
      brokers: BOTH,
      plan: (c) => {
        const away = full ? [1 / 6, 1, 3] : [2 / 3];
        let hour = 0.5;
        for (const hours of away) {
          c.at(hour, () => c.restartCollector(hours));
          hour += hours + 1;
        }
        c.at(full ? 2 : 2.2, () => c.restartBroker());
        if (full) c.at(8, () => c.restartBroker());
      },
    },
    {
      name: "power-cuts",
      description: full ? "40 power cuts at random instants, half in a store write, off 1-30 min" : "10 power cuts, half in a store write, off 1-30 min",
      hours: full ? 12 : 4,
      sensorFaultHours: 0,
      brokers: BOTH,
      plan: (c) => powerCuts(c, full ? 40 : 10, 0.25, full ? 11 : 3.5),
    },
    {
      name: "clock-jumps",
      description: "wall clock set back 20 min, on 2 h, back 3 h, on 5 min",
      hours: full ? 10 : 5,
      sensorFaultHours: 0,
      brokers: full ? BOTH : ["aedes"],
      plan: (c) => clockJumps(c, [[0.7, -20], [1.5, 120], [2.5, -180], [3.5, 5]]),
    },
    {
      name: "sensor-faults",
      description: "a part misbehaves about every hour, per part",
      hours: full ? 24 : 3,
      sensorFaultHours: 1,
      brokers: full ? BOTH : ["aedes"],
      plan: () => {},
    },
    {
      name: "full-disks",
      description: "node flash full (ENOSPC) 1 h, read-only (EROFS) 30 min, failing (EIO) 20 min; collector disk full 30 min",
      hours: full ? 8 : 4,
      sensorFaultHours: 0,
      brokers: BOTH,
      plan: (c) => {
        const [a, b, d] = [c.devices[0]!, c.devices[1 % c.devices.length]!, c.devices[2 % c.devices.length]!];
        c.at(0.5, () => c.failNodeDisk(a, "ENOSPC"));
        c.at(1.5, () => c.failNodeDisk(a, undefined));
        c.at(1, () => c.failNodeDisk(b, "EROFS"));
        c.at(1.5, () => c.failNodeDisk(b, undefined));
        c.at(2, () => c.failNodeDisk(d, "EIO"));
        c.at(2 + 1 / 3, () => c.failNodeDisk(d, undefined));
        c.at(2.5, () => c.failCollectorDisk("ENOSPC"));
        c.at(3, () => c.failCollectorDisk(undefined));
      },
    },
    {
      name: "everything",
      description: "outages, flapping, collector and broker restarts, power cuts, clock jumps, sensor faults, full disks at once",
      hours: full ? 24 : 6,
      sensorFaultHours: 2,
      brokers: BOTH,
      plan: (c) => {
        const scale = full ? 4 : 1;
        c.at(0.5, () => c.linkDown());
        c.at(0.5 + 0.75 * scale, () => c.linkUp());
        flapping(c, 1.5 * scale, 0.5 * scale, 10);
        c.at(2.2 * scale, () => c.restartCollector(0.3 * scale));
        c.at(3 * scale, () => c.restartBroker());
        // The power cuts spare the node whose flash fails: a message held in RAM because the flash
        // refuses it is lost if the power goes too, and nothing can count that (docs/reliability.md).
        const last = c.devices[c.devices.length - 1]!;
        powerCuts(c, full ? 24 : 6, 0.3, 5.5 * scale, c.devices.length > 1 ? c.devices.slice(0, -1) : c.devices);
        clockJumps(c, [[1.2 * scale, -15], [3.4 * scale, 30]]);
        c.at(4 * scale, () => c.failNodeDisk(last, "ENOSPC"));
        c.at(4.5 * scale, () => c.failNodeDisk(last, undefined));
        c.at(4.2 * scale, () => c.failCollectorDisk("ENOSPC"));
        c.at(4.4 * scale, () => c.failCollectorDisk(undefined));
      },
    },
  ];
}
