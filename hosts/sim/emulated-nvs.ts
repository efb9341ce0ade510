/**
 * ESP32 NVS as Moddable's `Preference` module sees it, in memory, with power cuts and failures that
 * can be placed at any NVS operation.
 *
 * It follows what the sources say (Moddable SDK 8.2.3 modules/files/preference/esp32/modPreference.c,
 * ESP-IDF components/nvs_flash/src):
 * - Namespace (`domain`) and key names have at most 15 characters. Preference.get() returns
 *   undefined when nvs_open fails (absent namespace, or a name NVS rejects); set() then throws
 *   "nvs_open fail".
 * - set() erases the key first (nvs_erase_key, whose result is not checked), then writes it:
 *   booleans as u8, integers as i32, strings as str, ArrayBuffers as blobs; other values throw.
 *   ESP-IDF writes every operation to flash at once (nvs_commit does nothing), so the erase and the
 *   write are two separate, individually atomic operations: a cut between them leaves the key absent.
 *   A failed write throws "nvs set fail", and the erase before it has already happened.
 * - Blobs and strings hold at most 4,000 bytes (the Moddable documentation's limit, strings including
 *   their NUL; ESP-IDF itself allows larger blobs).
 * - delete() is one erase; it ignores an absent key and throws "nvs erase fail" on failure.
 * - get() returns the value in its stored type (an ArrayBuffer copy for a blob) or undefined, and
 *   throws "nvs get fail" on a read error.
 *
 * Operations are numbered from 0 (reads, erases, writes). `cutPowerAt(n)`: operation n does not
 * happen and neither does any later one until `powerOn()` (a reboot: build a new store over the same
 * EmulatedNvs). `failAt(n)`: operation n fails as NVS would (flash full or failing) and later ones
 * work. `dropAt(n)`: operation n reports success but changes nothing (the Linux simulator's
 * Preference swallows its file errors so).
 */

export class PowerCut extends Error {
  override name = "PowerCut";
}

export type NvsItem =
  | { readonly type: "blob"; readonly bytes: Uint8Array }
  | { readonly type: "str"; readonly text: string }
  | { readonly type: "u8"; readonly value: number }
  | { readonly type: "i32"; readonly value: number };

type PreferenceValue = string | boolean | number | ArrayBuffer;

/** The shape of Moddable's `Preference` default export: a class with static methods. */
export interface PreferenceModule {
  get(domain: string, key: string): PreferenceValue | undefined;
  set(domain: string, key: string, value: PreferenceValue): void;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

export const NVS_NAME_MAX_LENGTH = 15;
export const NVS_VALUE_MAX_BYTES = 4000;

type Fault = "cut" | "fail" | "drop";
type Outcome = "ok" | "fail" | "drop";

function validName(name: string): boolean {
  return name.length > 0 && name.length <= NVS_NAME_MAX_LENGTH;
}

export class EmulatedNvs {
  readonly #namespaces = new Map<string, Map<string, NvsItem>>();
  readonly #faults = new Map<number, Fault>();
  #operations = 0;
  #powered = true;
  /** Every operation attempted, e.g. "erase ~journal", for tests that check the order. */
  readonly log: string[] = [];
  /** The emulated `Preference` module (pass it where the Moddable main passes the real one). */
  readonly preference: PreferenceModule;

  constructor() {
    const nvs = this;
    this.preference = class Preference {
      static get(domain: string, key: string): PreferenceValue | undefined {
        return nvs.#get(domain, key);
      }
      static set(domain: string, key: string, value: PreferenceValue): void {
        nvs.#set(domain, key, value);
      }
      static delete(domain: string, key: string): void {
        nvs.#delete(domain, key);
      }
      static keys(domain: string): string[] {
        nvs.#requirePower();
        return [...(nvs.#namespaces.get(domain)?.keys() ?? [])];
      }
    };
  }

  /** Operations attempted so far (the index the next one gets). */
  get operations(): number {
    return this.#operations;
  }

  get powered(): boolean {
    return this.#powered;
  }

  /** Operation `index` and everything after it do not happen, until `powerOn()`. */
  cutPowerAt(index: number): void {
    this.#faults.set(index, "cut");
  }

  /** Operation `index` fails as NVS reports a failure (full, flash error). */
  failAt(index: number): void {
    this.#faults.set(index, "fail");
  }

  /** Operation `index` reports success but changes nothing. */
  dropAt(index: number): void {
    this.#faults.set(index, "drop");
  }

  /** Restores power (a reboot) and forgets faults not reached yet. */
  powerOn(): void {
    this.#powered = true;
    this.#faults.clear();
  }

  /** Writes a blob as nvs_partition_gen.py would into a flashed partition (no operation counted). */
  writeBlob(namespace: string, key: string, bytes: Uint8Array): void {
    this.#put(namespace, key, { type: "blob", bytes: bytes.slice() });
  }

  /** Writes a string as nvs_partition_gen.py would (encoding "string"). */
  writeString(namespace: string, key: string, text: string): void {
    this.#put(namespace, key, { type: "str", text });
  }

  /** What NVS holds, for assertions (no operation counted). */
  item(namespace: string, key: string): NvsItem | undefined {
    return this.#namespaces.get(namespace)?.get(key);
  }

  /** A blob's bytes (a copy), or undefined when absent or not a blob. */
  blob(namespace: string, key: string): Uint8Array | undefined {
    const item = this.item(namespace, key);
    return item?.type === "blob" ? item.bytes.slice() : undefined;
  }

  keys(namespace: string): string[] {
    return [...(this.#namespaces.get(namespace)?.keys() ?? [])].sort();
  }

  #put(namespace: string, key: string, item: NvsItem): void {
    if (!validName(namespace) || !validName(key)) throw new Error(`NVS names are 1-${NVS_NAME_MAX_LENGTH} characters: ${namespace}/${key}`);
    let entries = this.#namespaces.get(namespace);
    if (!entries) this.#namespaces.set(namespace, (entries = new Map()));
    entries.set(key, item);
  }

  #requirePower(): void {
    if (!this.#powered) throw new PowerCut("NVS used while the power is off");
  }

  #operation(kind: "read" | "erase" | "write", key: string): Outcome {
    this.#requirePower();
    const index = this.#operations++;
    this.log.push(`${kind} ${key}`);
    const fault = this.#faults.get(index);
    if (fault === "cut") {
      this.#powered = false;
      throw new PowerCut(`power cut at NVS operation ${index} (${kind} ${key})`);
    }
    return fault ?? "ok";
  }

  #get(domain: string, key: string): PreferenceValue | undefined {
    this.#requirePower();
    const entries = validName(domain) ? this.#namespaces.get(domain) : undefined;
    if (!entries) return undefined; // nvs_open failed: "most likely that domain doesn't exist yet"
    if (!validName(key)) throw new Error("nvs get fail");
    if (this.#operation("read", key) === "fail") throw new Error("nvs get fail");
    const item = entries.get(key);
    switch (item?.type) {
      case undefined:
        return undefined;
      case "u8":
        return item.value !== 0;
      case "i32":
        return item.value;
      case "str":
        return item.text;
      case "blob":
        return item.bytes.slice().buffer;
    }
  }

  #set(domain: string, key: string, value: PreferenceValue): void {
    this.#requirePower();
    if (!validName(domain)) throw new Error("nvs_open fail");
    let item: NvsItem;
    let size = 0;
    if (typeof value === "boolean") item = { type: "u8", value: value ? 1 : 0 };
    else if (typeof value === "number") {
      if (!Number.isInteger(value)) throw new Error("float unsupported");
      item = { type: "i32", value: value | 0 };
    } else if (typeof value === "string") {
      item = { type: "str", text: value };
      size = value.length + 1;
    } else if (value instanceof ArrayBuffer) {
      item = { type: "blob", bytes: new Uint8Array(value.slice(0)) };
      size = value.byteLength;
    } else throw new Error("unsupported type");
    if (!validName(key)) throw new Error("nvs set fail"); // ESP_ERR_NVS_KEY_TOO_LONG
    let entries = this.#namespaces.get(domain);
    if (!entries) this.#namespaces.set(domain, (entries = new Map()));
    // ERASE_KEY: its result is not checked.
    if (this.#operation("erase", key) === "ok") entries.delete(key);
    const outcome = this.#operation("write", key);
    if (outcome === "fail" || size > NVS_VALUE_MAX_BYTES) throw new Error("nvs set fail");
    if (outcome === "ok") entries.set(key, item);
    // nvs_commit: nothing left to write.
  }

  #delete(domain: string, key: string): void {
    this.#requirePower();
    const entries = validName(domain) ? this.#namespaces.get(domain) : undefined;
    if (!entries) return;
    if (!validName(key)) throw new Error("nvs erase fail");
    const outcome = this.#operation("erase", key);
    if (outcome === "fail") throw new Error("nvs erase fail");
    if (outcome === "ok") entries.delete(key);
  }
}
