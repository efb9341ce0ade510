/**
 * `npm run soak -- [--days N] [--seed S]`: the reference node for N simulated days (default 30) in
 * the XS engine with faults on (soak-run.ts), and a line per day: the live heap at midnight (slots
 * after a full collection, XS's deterministic meter), the day's outage, the queue's peak, drops,
 * store errors, bus fault episodes. Exit 1 when a queue did not drain within an hour of an outage,
 * when a message went neither out nor into the drop count, or when the live heap moved after the
 * warm-up by more than SOAK_LIMITS allows. docs/reliability.md reports a run.
 */
import { bundleForXs } from "./bundle.js";
import { decodeBridge, encodeBridge, type BridgeValue } from "./bridge-codec.js";
import { SOAK_LIMITS, type SoakStats } from "./soak-run.js";
import { XsnapWorker } from "./xsnap-worker.js";

const { WARM_UP_DAYS, HEAP_WOBBLE_SLOTS } = SOAK_LIMITS;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

async function main(): Promise<number> {
  const days = Number(option("--days", "30"));
  const seed = option("--seed", "soak");
  if (!Number.isInteger(days) || days < WARM_UP_DAYS + 1 || days > 365) {
    process.stderr.write(`soak: --days must be ${WARM_UP_DAYS + 1}-365\n`);
    return 2;
  }
  const worker = new XsnapWorker({ name: "civicnode-soak" });
  const run = async (...message: BridgeValue[]) => {
    const { reply, meter } = await worker.command(encodeBridge(message));
    const [status, json] = decodeBridge(reply);
    if (status !== "ok") throw new Error(`XS replied ${String(status)}`);
    return { result: JSON.parse(String(json)) as SoakStats, meter };
  };
  await worker.evaluate(bundleForXs("scenario").code);
  const options = { device: "street-02", street: "demo-street", rootKey: "07".repeat(32), startWallMs: Date.UTC(2026, 5, 1), seed, busFaultHours: 12, longOutageDay: WARM_UP_DAYS };
  await run("soak.setup", JSON.stringify(options));
  process.stdout.write(`soak: ${days} simulated days of street-02 in XS, seed "${seed}"\n\n`);
  const header = ["day", "live slots", "windows", "outage h", "peak queue", "peak KB", "dropped", "store errors", "bus faults", "undrained"];
  process.stdout.write(`${header.join(" | ")}\n${header.map((h) => "-".repeat(h.length)).join(" | ")}\n`);
  const heap: number[] = [];
  let previous: SoakStats | undefined;
  let last: SoakStats | undefined;
  const started = Date.now();
  for (let day = 1; day <= days; day++) {
    const { result } = await run("soak.day");
    const { meter } = await run("gc");
    heap.push(meter.currentHeapCount);
    const row = [
      day,
      meter.currentHeapCount,
      result.windowsClosed - (previous?.windowsClosed ?? 0),
      Math.round((result.outageHours - (previous?.outageHours ?? 0)) * 10) / 10,
      result.dayPeakQueueDepth,
      (result.dayPeakQueueBytes / 1024).toFixed(1),
      result.dropped - (previous?.dropped ?? 0),
      result.storeErrors - (previous?.storeErrors ?? 0),
      result.busFaultEpisodes - (previous?.busFaultEpisodes ?? 0),
      result.undrained,
    ];
    process.stdout.write(`${row.join(" | ")}\n`);
    previous = last = result;
  }
  await worker.close();
  const afterWarmUp = heap.slice(WARM_UP_DAYS - 1);
  const band = Math.max(...afterWarmUp) - Math.min(...afterWarmUp);
  const flat = band <= HEAP_WOBBLE_SLOTS;
  const s = last!;
  process.stdout.write(
    `\n${s.windowsClosed} windows, ${s.summariesSealed} summaries and ${s.healthReportsSealed} health reports sealed, ${s.messages} messages delivered, ` +
      `${s.dropped} dropped (counted), ${s.sealFailures} seal failures; ${s.outages} outages (${s.outageHours} h, longest ${s.longestOutageHours} h), ` +
      `${s.undrained} not drained within the hour; ${s.busFaultEpisodes} bus fault episodes; live heap after day ${WARM_UP_DAYS - 1}: ` +
      `${flat ? `flat, ${Math.min(...afterWarmUp)}-${Math.max(...afterWarmUp)} slots` : `MOVED by ${band} slots (${afterWarmUp.join(", ")})`}; ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
  return flat && s.undrained === 0 && s.messages + s.dropped === s.summariesSealed + s.healthReportsSealed + 1 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
