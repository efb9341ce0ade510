/**
 * The keyring's devices into `devices`. A device provisioned again (a new root key: another key
 * id) starts its counters over: its replay state goes, and its newest epoch is forgotten, as
 * collector-store.ts does today for a re-keyed device. Its stored summaries, health and messages
 * stay (each message row names the key it came under). A zone that changed is recorded; a device
 * missing from the list is left as it is (its rows stay, and the opener refuses its messages).
 */
import type { DeviceKey } from "./collector-db.js";
import type { SqlDialect, SqlExecutor } from "./sql-database.js";

export async function syncDevices(tx: SqlExecutor, dialect: SqlDialect, devices: ReadonlyArray<DeviceKey>, nowMs: number): Promise<string[]> {
  const reset: string[] = [];
  // In name order, as admission locks devices, so a sync and a batch never wait on each other in a circle.
  for (const { device, zone, keyId } of [...devices].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))) {
    const [row] = await tx.query<{ zone: string; key_id: string | null }>(`SELECT zone, key_id FROM devices WHERE device = ?${dialect.forUpdate}`, [device]);
    if (!row) {
      await tx.run("INSERT INTO devices (device, zone, key_id, key_since_ms) VALUES (?, ?, ?, ?) ON CONFLICT (device) DO NOTHING", [device, zone, keyId, nowMs]);
      continue;
    }
    if (row.key_id !== keyId) {
      await tx.run("DELETE FROM replay_tags WHERE device = ?", [device]);
      await tx.run("DELETE FROM replay_state WHERE device = ?", [device]);
      await tx.run("UPDATE devices SET zone = ?, key_id = ?, key_since_ms = ?, newest_epoch = NULL WHERE device = ?", [zone, keyId, nowMs, device]);
      if (row.key_id !== null) reset.push(device);
    } else if (row.zone !== zone) {
      await tx.run("UPDATE devices SET zone = ? WHERE device = ?", [zone, device]);
    }
  }
  return reset;
}
