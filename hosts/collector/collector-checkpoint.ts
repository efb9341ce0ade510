/**
 * The collector's checkpoint, `collector.json` (mode 0600, replaced atomically): the replay state and
 * the window index as they stood after the first `bytes` of each log. The logs are the journal; the
 * checkpoint only saves reading them from the start. At start the lines after the checkpoint are
 * replayed into the state, so a crash between an append and the next checkpoint accepts nothing twice.
 *
 *   {"format": "civicnode-collector-state", "version": 2,
 *    "keys": {"<device>": "<key id hex>"},
 *    "counters": {"<device>/<epoch>": {"window": "<hex>", "tags": "<base64>", "sealedUntil": <Unix s>}},
 *    "windows": {"<device>": [[<window start>, <epoch>, <counter>, "<digest>"], ...]},
 *    "logs": {"summaries": {"file": "summaries.jsonl", "bytes": <n>}, "health": {"file": "health.jsonl", "bytes": <n>}}}
 *
 * Version 1 held only `replay` ({"<device>/<epoch>": "<window hex>"}) and `keys`; it is read as
 * counters without tags or seal times, covering no log bytes (the logs are then replayed whole).
 */
import type { EpochCountersSnapshot } from "./epoch-counters.js";
import type { WindowIndexSnapshot } from "./window-index.js";

export const CHECKPOINT_FORMAT = "civicnode-collector-state";

export interface LogMark {
  /** The log's file name (without folder): a log moved to another name is replayed whole. */
  readonly file: string;
  readonly bytes: number;
}

export interface Checkpoint {
  /** Per device, the key id (keyIdFromRoot, hex) its counters belong to. */
  readonly keys: ReadonlyMap<string, string>;
  readonly counters: ReadonlyMap<string, EpochCountersSnapshot>;
  readonly windows: WindowIndexSnapshot;
  /** Per log role ("summaries", "health"), how much of it the state covers. */
  readonly logs: ReadonlyMap<string, LogMark>;
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export function serializeCheckpoint(checkpoint: Checkpoint): string {
  const counters: Record<string, { window: string; tags?: string; sealedUntil?: number }> = {};
  for (const [key, snapshot] of checkpoint.counters) {
    counters[key] = {
      window: Buffer.from(snapshot.window).toString("hex"),
      ...(snapshot.tags ? { tags: Buffer.from(snapshot.tags).toString("base64") } : {}),
      ...(snapshot.sealedUntil !== undefined ? { sealedUntil: snapshot.sealedUntil } : {}),
    };
  }
  return (
    JSON.stringify({
      format: CHECKPOINT_FORMAT,
      version: 2,
      keys: Object.fromEntries(checkpoint.keys),
      counters,
      windows: Object.fromEntries(checkpoint.windows),
      logs: Object.fromEntries(checkpoint.logs),
    }) + "\n"
  );
}

/** Reads a checkpoint of version 2 or 1; entries that are not well-formed are skipped, a file that is not a checkpoint throws. */
export function parseCheckpoint(text: string): Checkpoint {
  let document: Record<string, unknown>;
  try {
    document = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CheckpointError("not JSON");
  }
  if (typeof document !== "object" || document === null || document.format !== CHECKPOINT_FORMAT) throw new CheckpointError("not a collector state file");
  const keys = new Map<string, string>();
  for (const [device, id] of entries(document.keys)) if (typeof id === "string" && /^[0-9a-f]+$/.test(id)) keys.set(device, id);
  const counters = new Map<string, EpochCountersSnapshot>();
  const windows: WindowIndexSnapshot = new Map();
  const logs = new Map<string, LogMark>();
  if (document.version === 1) {
    if (typeof document.replay !== "object" || document.replay === null) throw new CheckpointError("version 1 without replay windows");
    for (const [key, hex] of entries(document.replay)) if (isHex(hex)) counters.set(key, { window: fromHex(hex) });
    return { keys, counters, windows, logs };
  }
  if (document.version !== 2) throw new CheckpointError(`version ${String(document.version)} is not known`);
  for (const [key, raw] of entries(document.counters)) {
    const entry = raw as { window?: unknown; tags?: unknown; sealedUntil?: unknown } | null;
    if (typeof entry !== "object" || entry === null || !isHex(entry.window)) continue;
    counters.set(key, {
      window: fromHex(entry.window),
      ...(typeof entry.tags === "string" ? { tags: new Uint8Array(Buffer.from(entry.tags, "base64")) } : {}),
      ...(typeof entry.sealedUntil === "number" && Number.isFinite(entry.sealedUntil) ? { sealedUntil: entry.sealedUntil } : {}),
    });
  }
  for (const [device, list] of entries(document.windows)) {
    if (!Array.isArray(list)) continue;
    const kept = list.filter(
      (w): w is [number, number, number, string] => Array.isArray(w) && w.length === 4 && w.slice(0, 3).every(Number.isSafeInteger) && typeof w[3] === "string",
    );
    windows.set(device, kept);
  }
  for (const [role, raw] of entries(document.logs)) {
    const mark = raw as { file?: unknown; bytes?: unknown } | null;
    if (typeof mark === "object" && mark !== null && typeof mark.file === "string" && Number.isSafeInteger(mark.bytes) && (mark.bytes as number) >= 0) {
      logs.set(role, { file: mark.file, bytes: mark.bytes as number });
    }
  }
  return { keys, counters, windows, logs };
}

function entries(value: unknown): Array<[string, unknown]> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
}

function isHex(value: unknown): value is string {
  return typeof value === "string" && /^([0-9a-f]{2})+$/.test(value);
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}
