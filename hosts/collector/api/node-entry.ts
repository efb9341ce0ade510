/**
 * What anyone may know of one node, read for the public routes (GET /api/nodes, GET
 * /api/nodes/{device}/verification, the disclosure's verification header): its zone, newest window and status,
 * where its disclosure places it, and whether what its page shows is verified. Nothing of its
 * health or its keys.
 */
import type { DeviceRow, StoredSummary } from "../db/collector-db.js";
import type { ApiContext } from "./api-route.js";
import { nodeStatus } from "./node-status.js";
import { nodeVerification, type NodeVerification } from "./node-verification.js";
import { isoSeconds } from "./time-parameter.js";

type KnownRow = Pick<DeviceRow, "device" | "zone"> & Partial<DeviceRow>;

/** The node as GET /api/nodes lists it (nodeSchema), and its newest stored summary for the verdict. */
export async function nodeEntry(context: ApiContext, row: KnownRow) {
  const lastWindowStart = row.lastWindowStart;
  const newest = lastWindowStart === undefined ? undefined : await newestSummary(context, row.device, lastWindowStart);
  const windowSeconds = newest?.windowSeconds;
  const entry = {
    device: row.device,
    zone: row.zone,
    lastWindowStart: lastWindowStart ?? null,
    lastWindowStartIso: lastWindowStart === undefined ? null : isoSeconds(lastWindowStart),
    windowSeconds: windowSeconds ?? null,
    status: nodeStatus(lastWindowStart, windowSeconds, Math.floor(context.now() / 1000)),
    location: await publishedLocation(context, row.device),
  };
  return { entry, newest };
}

/** The verdict on the node's disclosure and its newest summary (node-verification.ts). */
export async function verificationOf(context: ApiContext, device: string, newest: StoredSummary | undefined): Promise<NodeVerification> {
  const disclosure = await context.disclosures?.disclosure(device);
  const forgedAtMs = context.disclosures?.forgedAtMs?.(device);
  return nodeVerification(disclosure, newest, { ...(forgedAtMs === undefined ? {} : { forgedAtMs }), ...(context.policyGraceMs === undefined ? {} : { graceMs: context.policyGraceMs }) });
}

/** The node's summary of the window that starts at `windowStart` (its newest: the device row's). */
export async function newestSummary(context: ApiContext, device: string, windowStart: number): Promise<StoredSummary | undefined> {
  const page = await context.db.summaries({ device, from: windowStart, to: windowStart + 1, limit: 1 });
  return page.items[0];
}

/** The node's position as its stored disclosure publishes it (coarsened by the node: src/policy/coarse-position.ts). */
async function publishedLocation(context: ApiContext, device: string): Promise<{ latitude: number; longitude: number; precisionMeters: number; verified: boolean } | null> {
  const stored = await context.disclosures?.disclosure(device);
  if (!stored) return null;
  try {
    const location = (JSON.parse(new TextDecoder().decode(stored.document)) as { location?: Record<string, unknown> }).location;
    const { latitude, longitude, precisionMeters } = location ?? {};
    if (typeof latitude !== "number" || typeof longitude !== "number" || typeof precisionMeters !== "number") return null;
    return { latitude, longitude, precisionMeters, verified: stored.verified };
  } catch {
    return null;
  }
}
