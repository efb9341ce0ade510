/**
 * A node as the staff dashboard's street shows it: what GET /api/nodes says of it (zone, newest
 * window, status, published position) and, from its newest health report, whether a sensor is
 * faulty, its outbox and its drops. The plan colours it by `state`:
 *
 *   silent (nothing for 6 windows)  >  sensor-faulty (reporting or late, a sensor not ok)  >  late  >  reporting
 *
 * Shared by GET /api/street and the live stream (GET /api/events), so both say the same.
 */
import type { DeviceRow } from "../../db/collector-db.js";
import type { ApiContext } from "../api-route.js";
import type { STREET_STATES } from "../dashboard-schemas.js";
import { nodeEntry } from "../node-entry.js";
import { isoMs, isoSeconds } from "../time-parameter.js";
import type { StoreReads } from "./store-reads.js";

export type StreetState = (typeof STREET_STATES)[number];

type KnownRow = Pick<DeviceRow, "device" | "zone"> & Partial<DeviceRow>;

export async function streetEntry(context: ApiContext, reads: StoreReads, row: KnownRow) {
  const { entry } = await nodeEntry(context, row);
  const newest = await reads.newestHealth(row.device);
  const faultySensors = newest ? Object.entries(newest.report.sensors ?? {}).filter(([, s]) => s.status !== undefined && s.status !== "ok").map(([name]) => name) : [];
  const state: StreetState = entry.status === "silent" ? "silent" : faultySensors.length > 0 ? "sensor-faulty" : entry.status;
  return {
    ...entry,
    state,
    lastSeenAt: row.lastSeenMs === undefined ? null : isoMs(row.lastSeenMs),
    health: newest
      ? { time: newest.time, timeIso: isoSeconds(newest.time), faultySensors, queue: newest.report.node?.queue ?? null, dropped: newest.report.node?.dropped ?? null }
      : null,
  };
}
