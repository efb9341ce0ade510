/**
 * The collector as a service, as `npm run collector` and `npm start` run it: its database (SQLite
 * in the state folder unless a PostgreSQL URL is given), the file-based collector's state folder
 * imported once, the collector subscribed, and the HTTP API on its address.
 *
 *   open the database (migrations) -> import collector.json and its journals once -> collector:
 *     sync the keyring's devices, subscribe -> API
 *
 * Example:
 *   const service = await startCollectorService({ stateDir, brokerUrl, keyring, log });
 *   console.log(`API on ${service.api?.url}`);
 *   await service.stop();
 */
import { OPERATOR_PUBLIC_KEY_FILE, readOperatorPublicKey } from "./operator-key.js";
import { PolicyRegistry } from "./policy-registry.js";
import { join } from "node:path";
import type { Log } from "../../src/platform.js";
import { keyIdFromRoot } from "../../src/wire/key-schedule.js";
import { startApi, type ApiServer } from "./api/api-server.js";
import { collectorPages } from "./web/web-pages.js";
import { API_TOKEN_FILE } from "./api/api-token.js";
import type { HttpAddress } from "./api/http-address.js";
import { Collector, type CollectorOptions } from "./collector.js";
import type { CollectorDb, DeviceKey } from "./db/collector-db.js";
import { legacyStateFiles, type LegacyImportReport } from "./db/legacy-import.js";
import { COLLECTOR_DB_FILE, isPostgresUrl, openCollectorDb } from "./db/open-collector-db.js";
import type { Keyring } from "./keyring.js";

export interface CollectorServiceOptions extends Omit<CollectorOptions, "db" | "log"> {
  /** Holds keyring.sealed, api-token, and collector.db unless `db` says otherwise. */
  readonly stateDir: string;
  /** A postgres:// URL or the path of an SQLite file; default `<stateDir>/collector.db`. */
  readonly db?: string;
  /** Where the API listens; "off" serves none. Default 127.0.0.1 on a free port. */
  readonly http?: HttpAddress | "off";
  /** The address the public pages are published under (`--public-url`); default: each request's. */
  readonly publicBaseUrl?: string;
  readonly log: Log;
}

export interface CollectorService {
  readonly collector: Collector;
  readonly db: CollectorDb;
  readonly api: ApiServer | undefined;
  /** What was imported from a file-based collector's state folder, if anything. */
  readonly imported: LegacyImportReport | undefined;
  /** Stops the API and the collector (storing what it holds), then closes the database. */
  stop(): Promise<void>;
}

/** The database's location from `--db`: default the SQLite file in the state folder. */
export function databaseLocation(stateDir: string, db: string | undefined): string {
  return db ?? join(stateDir, COLLECTOR_DB_FILE);
}

export function usesPostgres(db: string | undefined): boolean {
  return db !== undefined && isPostgresUrl(db);
}

/** Opens, imports and starts; on failure, closes what it opened and throws. */
export async function startCollectorService(options: CollectorServiceOptions): Promise<CollectorService> {
  const { stateDir, keyring, log } = options;
  const db = await openCollectorDb({ location: databaseLocation(stateDir, options.db), log });
  let collector: Collector | undefined;
  let api: ApiServer | undefined;
  try {
    const imported = await db.importLegacyState(legacyStateFiles(stateDir), deviceKeys(keyring));
    if (imported) log("info", "collector-state-imported", { source: imported.source, summaries: imported.summaries, health: imported.health, counters: imported.counters });
    // The operator's public key beside the keyring checks every node's disclosure.
    const operatorKey = options.operatorKey ?? readOperatorPublicKey(stateDir);
    if (operatorKey === undefined) log("warn", "collector-disclosures-unverified", { detail: `no ${join(stateDir, OPERATOR_PUBLIC_KEY_FILE)}: disclosures are kept as published, never marked verified` });
    const policies = operatorKey === undefined ? undefined : new PolicyRegistry(stateDir, operatorKey, (device) => keyring.get(device)?.zone);
    collector = new Collector({ ...options, operatorKey, ...(policies ? { policies } : {}), db, log });
    await collector.start();
    if (options.http !== "off") {
      const address = options.http ?? { host: "127.0.0.1", port: 0 };
      api = await startApi({ db, keyring, disclosures: collector.disclosures, operatorKey, host: address.host, port: address.port, tokenFile: join(stateDir, API_TOKEN_FILE), log, pages: collectorPages({ log, ...(options.publicBaseUrl === undefined ? {} : { publicBaseUrl: options.publicBaseUrl }) }) });
    }
    const started = collector;
    const server = api;
    return {
      collector: started,
      db,
      api: server,
      imported,
      async stop() {
        await server?.close().catch(() => undefined);
        await started.stop();
        await db.close();
      },
    };
  } catch (error) {
    await api?.close().catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
}

export function deviceKeys(keyring: Keyring): DeviceKey[] {
  return keyring.devices.map((device) => {
    const entry = keyring.get(device)!;
    return { device, zone: entry.zone, keyId: Buffer.from(keyIdFromRoot(entry.rootKey, device)).toString("hex") };
  });
}
