/**
 * The conformance scenario: one seeded run of a reference street node through the situations a
 * node meets, fully deterministic (virtual clock, seeded parts and randomness, in-memory flash and
 * network). It runs unchanged on Node and inside the XS engine, and both must produce the same
 * sealed bytes.
 *
 * Storyline: boot mid-window; two quiet windows; CRC and NACK faults; an offline window (the
 * outbox holds, then flushes); the part unplugged for a window (channels missing) and back; a power
 * cut and reboot from the same flash (counters resume above the reserved block); two more windows.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Platform } from "../../src/platform.js";
import { provisioningWrites } from "../../src/wire/key-ratchet.js";
import { LoopbackTransport } from "./loopback-transport.js";
import { MemoryStore } from "./memory-store.js";
import { SeededRandom } from "./prng.js";
import { simulatedReferenceBoard, type SimulatedParts } from "./reference-board.js";
import { SimClock } from "./sim-clock.js";
import { streetNodeConfig } from "./street.js";

export interface ScenarioOptions {
  readonly device: string;
  readonly street: string;
  /** 32-byte device root key. */
  readonly rootKey: Uint8Array;
  /** A window boundary; the node boots 5 s after it. */
  readonly startWallMs: number;
}

export interface ScenarioMessage {
  readonly topic: string;
  readonly payloadHex: string;
}

export interface ScenarioResult {
  readonly messages: readonly ScenarioMessage[];
  readonly windowsClosed: number;
  /** Drops of the SHT4x driver by cause, summed over both boots. */
  readonly drops: Readonly<Record<string, number>>;
  readonly storeKeys: readonly string[];
}

const WINDOW_MS = 300_000;

export function runReferenceScenario(options: ScenarioOptions): ScenarioResult {
  const clock = new SimClock({ startWallMs: options.startWallMs });
  const store = new MemoryStore();
  store.commit(provisioningWrites(options.rootKey, options.device));
  const transport = new LoopbackTransport();
  const drops: Record<string, number> = {};
  let windowsClosed = 0;

  const boot = (): { node: CivicNode; parts: SimulatedParts } => {
    const { board, parts } = simulatedReferenceBoard(options.device, options.street, clock, clock);
    const platform: Platform = {
      clock,
      timers: clock,
      random: new SeededRandom(`${options.device}/random`),
      store,
      transport,
      buses: board,
      log: () => {},
    };
    const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(options.device, options.street)));
    node.start();
    return { node, parts };
  };
  const shutDown = (node: CivicNode) => {
    windowsClosed += node.stats.windowsClosed;
    for (const [cause, count] of Object.entries(node.sensors[0]!.health.drops)) drops[cause] = (drops[cause] ?? 0) + count;
    node.stop();
  };

  // Times are since the first window boundary; samples fall at 15 s, 25 s, ... after boot at 5 s.
  clock.advanceTo(5_000);
  let { node, parts } = boot();
  clock.advanceTo(2 * WINDOW_MS + 1_000); // windows 0 and 1
  parts.sht4x.injectFault("crc", { count: 2 });
  parts.sht4x.injectFault("nack", { count: 1 });
  clock.advanceTo(3 * WINDOW_MS + 1_000); // window 2 loses three readings
  transport.setConnected(false);
  clock.advanceTo(4 * WINDOW_MS + 1_000); // window 3 waits in the outbox
  transport.setConnected(true);
  parts.sht4x.injectFault("unplugged");
  clock.advanceTo(5 * WINDOW_MS + 1_000); // window 4: no reading at all
  parts.sht4x.clearFaults();
  clock.advanceTo(6 * WINDOW_MS + 123_000); // window 5, then a power cut inside window 6
  shutDown(node);
  ({ node, parts } = boot());
  clock.advanceTo(8 * WINDOW_MS + 1_000); // the rest of window 6, and window 7
  shutDown(node);

  return {
    messages: transport.published.map((m) => ({ topic: m.topic, payloadHex: bytesToHex(m.payload) })),
    windowsClosed,
    drops,
    storeKeys: store.keys().sort(),
  };
}
