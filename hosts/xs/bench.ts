/**
 * `npm run bench`: meters the reference node in the XS engine and writes BENCHMARKS.md.
 *
 * Every figure comes from XS's deterministic meter, read after each command ("crank"):
 * computrons, the slot heap count, and the engine's allocated space. A command that does nothing
 * but collect garbage leaves the heap count at exactly the live slots. Host wall times are given
 * for context only. The same numbers come out on every run on any machine, for a given commit.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { otherBenchSections } from "./other-bench-sections.js";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { bundleForXs, projectRoot } from "./bundle.js";
import { decodeBridge, encodeBridge, type BridgeValue } from "./bridge-codec.js";
import { measureSignatures, renderSignatureSection, type SignatureBench } from "./signature-bench.js";
import { NodeRun, type NodeRunStats } from "./workloads.js";
import { XsnapWorker, type XsMeter } from "./xsnap-worker.js";
import { streetNodeConfig } from "../sim/street.js";
import { nodeTopic } from "../../src/uplink/topics.js";

const DEVICE = "street-01";
const STREET = "demo-street";
const ROOT_KEY_HEX = "a5".repeat(32);
/** A window boundary; nodes boot 5 s after it so that samples never coincide with a boundary. */
const BOUNDARY_MS = Date.UTC(2026, 2, 9, 0, 0, 0);
const WINDOW_MS = 300_000;
const DAY_MS = 86_400_000;
/** Ingest is measured over this much simulated time, inside one window. */
const INGEST_SPAN_MS = 200_000;
/** Days of the memory run (`npm run bench -- --days N` for a quicker look). */
const MEMORY_DAYS = Number(process.argv[process.argv.indexOf("--days") + 1]) > 1 ? Number(process.argv[process.argv.indexOf("--days") + 1]) : 30;
/** sizeof(txSlot) in XS on a 64-bit host (16 on the 32-bit ESP32). */
const SLOT_BYTES = 32;

/** Targets from issue 3. */
const TARGETS = {
  slotsPerReading: 0,
  windowCloseComputrons: 1_500_000,
  heapGrowthPerDay: 0,
  sizeRatio: 100,
};

interface Crank<T> {
  readonly result: T;
  readonly meter: XsMeter;
  readonly ms: number;
}

class MeteredWorker {
  readonly #worker = new XsnapWorker({ name: "civicnode-bench" });

  async load(): Promise<void> {
    await this.#worker.evaluate(bundleForXs("scenario").code);
  }

  async run<T>(...message: BridgeValue[]): Promise<Crank<T>> {
    const start = performance.now();
    const { reply, meter } = await this.#worker.command(encodeBridge(message));
    const ms = performance.now() - start;
    const [, json] = decodeBridge(reply);
    return { result: JSON.parse(String(json)) as T, meter, ms };
  }

  /** Live slots: a command that only collects garbage. */
  async liveSlots(): Promise<number> {
    return (await this.run("gc")).meter.currentHeapCount;
  }

  close(): Promise<void> {
    return this.#worker.close();
  }
}

interface ChannelIngest {
  readonly sensor: string;
  readonly channels: readonly string[];
  readonly intervalSeconds: number;
  readonly computronsPerReading: number;
  readonly slotsAllocatedPerReading: number;
  readonly liveSlotsPerReading: number;
}

async function main(): Promise<void> {
  const worker = new MeteredWorker();
  await worker.load();
  // The engine and the loaded modules, before any node exists: on the device the preloaded
  // modules are in flash, so what a node adds to this is what it needs in RAM.
  const bundleSlots = await worker.liveSlots();
  const config = streetNodeConfig(DEVICE, STREET) as { sensors: Array<{ id: string; intervalSeconds: number; channels: Array<{ name: string }> }> };
  const nodeOptions = (extra: object) => JSON.stringify({ device: DEVICE, street: STREET, rootKey: ROOT_KEY_HEX, startWallMs: BOUNDARY_MS + 5_000, ...extra });

  // Every measurement is a command that does work minus the same command doing none (its own
  // decoding, bookkeeping and reply), and for ingest also minus the virtual clock's timer work.
  const zeroWork = async (...message: BridgeValue[]) => {
    await worker.liveSlots();
    const live = await worker.liveSlots();
    const crank = await worker.run(...message);
    return { compute: crank.meter.compute, slots: crank.meter.currentHeapCount - live };
  };
  const measure = async <T>(...message: BridgeValue[]) => {
    await worker.liveSlots();
    const live = await worker.liveSlots();
    const crank = await worker.run<T>(...message);
    return { result: crank.result, compute: crank.meter.compute, slots: crank.meter.currentHeapCount - live, liveAfter: (await worker.liveSlots()) - live };
  };
  const noopCompute = (await zeroWork("noop")).compute;

  // 1. Ingest, per sensor (and so per channel group), on recorded bus traffic.
  const ingest: ChannelIngest[] = [];
  for (const sensor of config.sensors) {
    const intervalMs = sensor.intervalSeconds * 1000;
    const samples = INGEST_SPAN_MS / intervalMs;
    await worker.run("clock.setup", intervalMs);
    await worker.run("clock.advance", intervalMs * 5);
    const clockIdle = await zeroWork("clock.advance", 0);
    const clock = await measure("clock.advance", INGEST_SPAN_MS);

    await worker.run("node.setup", nodeOptions({ source: "recorded", sensors: [sensor.id] }));
    await worker.run("node.advance", 2 * WINDOW_MS); // warm-up: two windows sealed
    const idle = await zeroWork("node.advance", 0);
    const measured = await measure<NodeRunStats>("node.advance", INGEST_SPAN_MS);
    if (measured.result.windowsClosed !== 2) throw new Error("ingest measurement crossed a window boundary");
    ingest.push({
      sensor: sensor.id,
      channels: sensor.channels.map((c) => c.name),
      intervalSeconds: sensor.intervalSeconds,
      computronsPerReading: (measured.compute - idle.compute - (clock.compute - clockIdle.compute)) / samples,
      // Not corrected for the clock: an upper bound that includes the virtual timer service.
      slotsAllocatedPerReading: (measured.slots - idle.slots) / samples,
      liveSlotsPerReading: measured.liveAfter / samples,
    });
  }

  // 2. Window close of the full reference node: aggregate, release, encode, seal, enqueue, send.
  // The third window (05:05-05:10 in local time... any window that is not a quarter hour, so no
  // health report joins the summary) also gives each sensor's readings per window.
  await worker.run("node.setup", nodeOptions({ source: "recorded" }));
  const atWindowStart = (await worker.run<NodeRunStats>("node.advance", WINDOW_MS - 5_000)).result; // the first boundary
  await worker.run("node.advance", WINDOW_MS - 1_000); // 1 s before the second boundary
  const idleNode = await zeroWork("node.advance", 0);
  const close = await measure<NodeRunStats>("node.advance", 2_000);
  if (close.result.windowsClosed !== 2 || close.result.messages !== atWindowStart.messages + 1) throw new Error("window-close measurement missed the boundary or met a health report");
  const windowCloseComputrons = close.compute - idleNode.compute;
  const sealedBytes = close.result.lastMessageBytes;
  const readingsPerWindow = Object.fromEntries(Object.entries(close.result.readings).map(([id, n]) => [id, n - atWindowStart.readings[id]!]));

  // 3. Sealing alone: the same summary plaintext, sealed 100 times.
  const framing = (await worker.run<number>("seal.setup", DEVICE, STREET, Buffer.from(ROOT_KEY_HEX, "hex"), sealedBytes - 40)).result;
  const plaintextBytes = sealedBytes - framing;
  await worker.run("seal.setup", DEVICE, STREET, Buffer.from(ROOT_KEY_HEX, "hex"), plaintextBytes);
  await worker.run("seal.run", 1);
  const idleSeal = await zeroWork("seal.run", 0);
  const seals = await measure("seal.run", 100);
  const sealComputrons = (seals.compute - idleSeal.compute) / 100;

  // 4. Memory over 30 simulated days of the whole node, on recorded bus traffic.
  await worker.run("node.setup", nodeOptions({ source: "recorded" }));
  const dayOne = await worker.run<NodeRunStats>("node.advance", DAY_MS);
  const heapAfterDay1 = await worker.liveSlots();
  const allocateAfterDay1 = dayOne.meter.allocate;
  let last = dayOne;
  for (let day = 2; day <= MEMORY_DAYS; day++) last = await worker.run<NodeRunStats>("node.advance", DAY_MS);
  const heapAfterLastDay = await worker.liveSlots();
  const allocateAfterLastDay = last.meter.allocate;

  // 5. Wall time of one simulated day of the same node, Node vs XS (context only).
  const nodeRun = new NodeRun({ device: DEVICE, street: STREET, rootKey: Buffer.from(ROOT_KEY_HEX, "hex"), startWallMs: BOUNDARY_MS + 5_000, source: "recorded" });
  const nodeStart = performance.now();
  nodeRun.advance(DAY_MS);
  const nodeDayMs = performance.now() - nodeStart;
  const xsDayMs = dayOne.ms;
  await worker.close();

  // 6. Ed25519 at boot and on a policy update, in an engine of its own (signature-bench.ts).
  const signatures = await measureSignatures();

  // 7. Sizes: one sealed summary vs the same window's readings as one MQTT message per reading.
  const perWindow = rawStreamPerWindow(config.sensors, readingsPerWindow);
  const sealedPublishBytes = mqttPublishBytes(nodeTopic(STREET, DEVICE, "summary"), sealedBytes, 1);
  const ratio = perWindow.bytes / sealedPublishBytes;

  const report = renderReport({
    ingest,
    windowCloseComputrons,
    sealComputrons,
    plaintextBytes,
    sealedBytes,
    sealedPublishBytes,
    raw: perWindow,
    ratio,
    heapAfterDay1,
    bundleSlots,
    heapAfterLastDay,
    allocateAfterDay1,
    allocateAfterLastDay,
    days: MEMORY_DAYS,
    windowsInRun: last.result.windowsClosed,
    nodeDayMs,
    xsDayMs,
    noopCompute,
    signatures,
  });
  const path = join(projectRoot(), "BENCHMARKS.md");
  writeFileSync(path, report + otherBenchSections(readIfThere(path)));
  process.stdout.write(report);
}

function readIfThere(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The bytes of an MQTT 3.1.1 PUBLISH packet: fixed header, topic, packet id (QoS > 0), payload. */
function mqttPublishBytes(topic: string, payloadBytes: number, qos: 0 | 1): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + payloadBytes;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/**
 * What a Tasmota-style firmware would publish for one window: one JSON telemetry message per
 * reading, QoS 0, e.g. tele/street-01/SENSOR {"Time":"2026-03-09T06:00:15","CLIMATE":{"Temperature":7.13,"Humidity":86.4}};
 * for BLE, one message per advertisement, with the address (what a naive scanner forwards).
 */
function rawStreamPerWindow(sensors: ReadonlyArray<{ id: string; channels: ReadonlyArray<{ name: string }> }>, readings: Record<string, number>) {
  let messages = 0;
  let bytes = 0;
  const examples: string[] = [];
  const topic = `tele/${DEVICE}/SENSOR`;
  const sample: Record<string, number> = { temperature: 7.13, humidity: 86.4, co2: 452, pm1: 13.5, pm2_5: 19.2, pm10: 32.4, noise: 55.3, people: 0, vehicles: 1, occupancy: 0.4 };
  for (const sensor of sensors) {
    const count = readings[sensor.id] ?? 0;
    const body =
      sensor.id === "ble"
        ? { mac: "4c:1a:2b:3c:4d:5e", rssi: -71 }
        : Object.fromEntries(sensor.channels.map((c) => [c.name[0]!.toUpperCase() + c.name.slice(1), sample[c.name] ?? 1]));
    const payload = JSON.stringify({ Time: "2026-03-09T06:00:15", [sensor.id.toUpperCase()]: body });
    examples.push(`- ${n(count)} x \`${topic} ${payload}\``);
    messages += count;
    bytes += count * mqttPublishBytes(topic, Buffer.byteLength(payload), 0);
  }
  return { messages, bytes, examples };
}

function engineVersions(): { xsnap: string; xs: string } {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve("@agoric/xsnap/package.json"));
  const xsnap = (JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string }).version;
  const header = readFileSync(join(packageDir, "moddable", "xs", "sources", "xsCommon.h"), "utf8");
  const part = (name: string) => header.match(new RegExp(`#define XS_${name}_VERSION (\\d+)`))?.[1] ?? "?";
  return { xsnap, xs: `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}` };
}

function commit(): string {
  try {
    const root = projectRoot();
    const hash = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" }).trim() !== "";
    return dirty ? `${hash} with uncommitted changes` : hash;
  } catch {
    return "unknown (not a git checkout)";
  }
}

const n = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (met: boolean, text: string) => (met ? (text ? `met (${text})` : "met") : `**missed** (${text})`);

function renderReport(r: {
  ingest: ChannelIngest[];
  windowCloseComputrons: number;
  sealComputrons: number;
  plaintextBytes: number;
  sealedBytes: number;
  sealedPublishBytes: number;
  raw: { messages: number; bytes: number; examples: string[] };
  ratio: number;
  heapAfterDay1: number;
  bundleSlots: number;
  heapAfterLastDay: number;
  allocateAfterDay1: number;
  allocateAfterLastDay: number;
  days: number;
  windowsInRun: number;
  nodeDayMs: number;
  xsDayMs: number;
  noopCompute: number;
  signatures: SignatureBench;
}): string {
  const versions = engineVersions();
  const growthPerDay = (r.heapAfterLastDay - r.heapAfterDay1) / (r.days - 1);
  const worstSlots = Math.max(...r.ingest.map((i) => i.slotsAllocatedPerReading));
  const worstLive = Math.max(...r.ingest.map((i) => i.liveSlotsPerReading));
  const lines = [
    "# Benchmarks",
    "",
    "Measured by XS's deterministic meter, so the figures do not depend on the machine: the",
    "same commit gives the same numbers. Host wall times are context only.",
    "",
    "```",
    "npm run bench",
    "```",
    "",
    `- commit: ${commit()}`,
    `- engine: XS ${versions.xs} in xsnap-worker (@agoric/xsnap ${versions.xsnap}), Node.js ${process.version} for the host`,
    `- node: the reference street node (\`hosts/sim/street.ts\`): ${r.ingest.map((i) => `${i.sensor} (${i.channels.join(", ")})`).join("; ")}; 300 s windows`,
    `- method: \`hosts/xs/bench.ts\`. Each figure is a command to the worker that does the work, minus the same command doing none (its decoding, bookkeeping and reply; an empty command costs ${n(r.noopCompute)} computrons), and for ingest minus the virtual clock firing the same number of timers. Heap figures are XS slots (32 bytes each on this 64-bit host, 16 on the ESP32); "live" is counted after a command that only collects garbage.`,
    "",
    "## Targets",
    "",
    "| target | measured | verdict |",
    "|---|---|---|",
    `| zero new heap use per reading in steady state | ${n(worstSlots, 2)} slots allocated, ${n(worstLive, 2)} slots kept per reading (worst sensor) | ${verdict(worstSlots <= TARGETS.slotsPerReading && worstLive <= 0, "fixed buffers, no per-reading objects")} |`,
    `| window close under ${n(TARGETS.windowCloseComputrons)} computrons | ${n(r.windowCloseComputrons)} | ${verdict(r.windowCloseComputrons < TARGETS.windowCloseComputrons, `${n((100 * r.windowCloseComputrons) / TARGETS.windowCloseComputrons, 0)}% of the budget`)} |`,
    `| no heap growth over 30 simulated days | ${n(growthPerDay, 2)} live slots per day | ${verdict(growthPerDay <= TARGETS.heapGrowthPerDay, `${n(r.heapAfterDay1)} live slots after day 1, ${n(r.heapAfterLastDay)} after day ${r.days}`)} |`,
    `| sealed summary at least ${TARGETS.sizeRatio}x smaller than the raw per-reading stream | ${n(r.ratio, 1)}x | ${verdict(r.ratio >= TARGETS.sizeRatio, r.ratio >= TARGETS.sizeRatio ? "" : `short by a factor of ${n(TARGETS.sizeRatio / r.ratio, 1)}: see the note below`)} |`,
    "",
    "## Per reading ingested (steady state, recorded bus traffic)",
    "",
    "| sensor | channels | sample every | computrons per sample | slots (bytes) allocated per sample | live slots (bytes) kept per sample |",
    "|---|---|---|---|---|---|",
    ...r.ingest.map(
      (i) =>
        `| ${i.sensor} | ${i.channels.join(", ")} | ${i.intervalSeconds} s | ${n(i.computronsPerReading)} | ${n(i.slotsAllocatedPerReading, 2)} (${n(i.slotsAllocatedPerReading * SLOT_BYTES)}) | ${n(i.liveSlotsPerReading, 2)} (${n(i.liveSlotsPerReading * SLOT_BYTES)}) |`,
    ),
    "",
    "A sample is one call of the driver from the node's timer: the bus transaction or the drain of the",
    "UART, parsing and checks, the conversion, the channel filters and one update of the window",
    "statistics of every channel it feeds. For the BLE scanner it also covers the advertisements that",
    "arrived since the previous sample (each handed to the privacy intake).",
    "",
    "## Per window",
    "",
    "| step | computrons |",
    "|---|---|",
    `| window close: release, SenML encode, seal, enqueue and publish | ${n(r.windowCloseComputrons)} |`,
    `| sealing alone: counter, nonce, COSE_Encrypt0 with ChaCha20-Poly1305 over ${r.plaintextBytes} bytes | ${n(r.sealComputrons)} |`,
    "",
    "## Size on the wire, per 300 s window",
    "",
    "| stream | messages | bytes on the wire (MQTT PUBLISH packets) |",
    "|---|---|---|",
    `| civicnode: one sealed summary (${r.plaintextBytes} bytes of SenML/CBOR, ${n(r.sealedBytes)} sealed), QoS 1 | 1 | ${n(r.sealedPublishBytes)} |`,
    `| raw: one JSON message per reading, QoS 0, Tasmota-style | ${n(r.raw.messages)} | ${n(r.raw.bytes)} |`,
    `| ratio | | ${n(r.ratio, 1)}x |`,
    "",
    "Raw messages of that window, by sensor:",
    "",
    ...r.raw.examples,
    "",
    "## Memory over time (the whole node, recorded bus traffic)",
    "",
    "| after | live slots | engine allocated space (bytes) |",
    "|---|---|---|",
    `| 1 day (288 windows) | ${n(r.heapAfterDay1)} | ${n(r.allocateAfterDay1)} |`,
    `| ${r.days} days (${n(r.windowsInRun)} windows) | ${n(r.heapAfterLastDay)} | ${n(r.allocateAfterLastDay)} |`,
    `| growth per day | ${n(growthPerDay, 2)} | ${n((r.allocateAfterLastDay - r.allocateAfterDay1) / (r.days - 1), 0)} |`,
    "",
    `Of those, ${n(r.bundleSlots)} are the engine's and the loaded modules' before any node exists (on the device, today in RAM too: the TypeScript core is not preloaded, docs/decisions.md). The node adds ${n(r.heapAfterDay1 - r.bundleSlots)} live slots (${n((r.heapAfterDay1 - r.bundleSlots) * 16)} bytes at the ESP32's 16 bytes a slot), an upper bound for the firmware's RAM: it includes the virtual clock, the in-memory store, the recording player and what the earlier measurements left. \`manifest.json\` sizes the ESP32's initial heap from it (docs/flashing.md).`,
    "",
    ...renderSignatureSection(r.signatures, { n }),
    "## Host wall time (context only, this machine)",
    "",
    "| one simulated day of the reference node, recorded bus traffic | ms |",
    "|---|---|",
    `| Node.js (V8) | ${n(r.nodeDayMs)} |`,
    `| XS (xsnap-worker) | ${n(r.xsDayMs)} |`,
    "",
    "## Notes",
    "",
  ];
  if (r.ratio < TARGETS.sizeRatio) {
    lines.push(`- The size target is missed by a factor of ${n(TARGETS.sizeRatio / r.ratio, 1)}: the raw stream of this window is ${n(r.raw.messages)} messages.`);
  }
  lines.push(
    "- The raw stream counts what the node actually took in during the measured window (good readings per sensor, and accepted BLE advertisements), each as the small JSON message a telemetry firmware would publish. It would also put every BLE address on the network, which civicnode never does.",
  );
  lines.push(
    "- Memory is measured on recorded bus traffic (see `hosts/sim/bus-recording.ts`): the simulated street costs XS far more than the firmware does, and the long run is about the firmware's memory.",
  );
  lines.push(
    "- Slots allocated per sample count every slot the command took from the heap, garbage or not, beyond what the same command takes doing nothing. They include the virtual clock's timer service, so they are an upper bound for the firmware. A 0 means that neither the sample path nor the timers create an object, closure or string per reading. Computrons per reading do exclude the virtual clock, whose work the device's native timers do.",
    "",
  );
  return lines.join("\n");
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
