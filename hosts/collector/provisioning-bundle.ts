/**
 * What a fresh node's store must hold, written in the two formats that reach a Moddable
 * `Preference` domain from outside the firmware image:
 *
 *   - ESP32: a CSV for ESP-IDF's NVS partition generator (`nvs_partition_gen.py generate`), which
 *     turns it into an image of the `nvs` partition. Every value is a `hex2bin` blob because
 *     Moddable's ESP32 Preference stores an ArrayBuffer as a plain NVS blob (nvs_set_blob, no type
 *     tag or header) and get() returns a blob as an ArrayBuffer; a `string` row would come back as
 *     a JS string instead.
 *   - Linux simulator: the `modpreferences.json` that Moddable's lin Preference loads, where an
 *     ArrayBuffer is `{"buffer": "<byte>,<byte>,..."}` (Uint8Array#toString, decimal).
 *
 * The records are the ratchet's own provisioning writes (key.root, key.id) plus the node's
 * identity, so that the image carries no secret and no per-device value.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { isValidId } from "../../src/uplink/topics.js";
import { ROOT_KEY_BYTES } from "../../src/wire/key-schedule.js";
import { provisioningWrites } from "../../src/wire/key-ratchet.js";
import { utf8Encode } from "../../src/wire/utf8.js";

/** The Preference domain (the NVS namespace on ESP32) that holds the node's store. */
export const PREFERENCE_DOMAIN = "civicnode";
export const DEVICE_STORE_KEY = "node.device";
export const ZONE_STORE_KEY = "node.zone";

/**
 * Where civicnode's ESP32 partition table (hosts/moddable/esp32/partitions.csv, the manifest's
 * PARTITIONS_FILE) puts `nvs`: the NVS image must have exactly this size, at this offset. The
 * table is the one truth; a test checks these against it.
 */
export const NVS_PARTITION_OFFSET = 0x9000;
export const NVS_PARTITION_SIZE = 0x46000;

/** The file name Moddable's lin Preference reads, relative to the manifest's `config.file.root`. */
export const LIN_PREFERENCES_FILE = "modpreferences.json";
export const NVS_CSV_FILE = "nvs.csv";

export interface ProvisioningRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** The store records of a fresh node, in the order they are written. */
export function provisioningRecords(device: string, zone: string, rootKey: Uint8Array): ProvisioningRecord[] {
  if (!isValidId(device)) throw new Error(`invalid device id ${JSON.stringify(device)}`);
  if (!isValidId(zone)) throw new Error(`invalid zone id ${JSON.stringify(zone)}`);
  if (rootKey.length !== ROOT_KEY_BYTES) throw new Error(`the root key must be ${ROOT_KEY_BYTES} bytes`);
  const records: ProvisioningRecord[] = provisioningWrites(rootKey, device).map((write) => ({ key: write.key, value: write.value! }));
  records.push({ key: DEVICE_STORE_KEY, value: utf8Encode(device) });
  records.push({ key: ZONE_STORE_KEY, value: utf8Encode(zone) });
  return records;
}

/**
 * The NVS generator's CSV: its fixed header, the namespace row (every following row belongs to
 * it), then one `data,hex2bin` row per record. No comments or blank lines, so the file is exactly
 * what the generator's documented format shows.
 */
export function nvsCsv(records: readonly ProvisioningRecord[]): string {
  const rows = ["key,type,encoding,value", `${PREFERENCE_DOMAIN},namespace,,`];
  for (const record of records) rows.push(`${record.key},data,hex2bin,${bytesToHex(record.value)}`);
  return rows.join("\n") + "\n";
}

/**
 * The lin simulator's preference file: `{domain: {key: value}}`, serialized the way the lin
 * Preference writes it back (JSON.stringify without spacing), ArrayBuffers as decimal byte lists.
 */
export function linPreferencesJson(records: readonly ProvisioningRecord[]): string {
  const domain: Record<string, { buffer: string }> = {};
  for (const record of records) domain[record.key] = { buffer: Array.from(record.value).join(",") };
  return JSON.stringify({ [PREFERENCE_DOMAIN]: domain });
}
