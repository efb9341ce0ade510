/**
 * The operator's record of the policies it signed, per node: what the collector checks every
 * sealed message against (a message is bound to its node's policy hash, src/wire/message-aad.ts),
 * kept beside the keyring as the keyring keeps the keys:
 *
 *   <state>/policies/<device>/<serial>.cose     the node's signed policy (COSE_Sign1), as provisioned
 *
 * Provisioning and policy updates add a file; nothing removes one (a node's messages queued under an
 * older policy still arrive after an update). A file is believed only if it verifies under the
 * operator's public key and names its device; anything else in the folder is ignored and counted.
 * The collector asks for the policies of a device as messages arrive; a message bound to none of
 * them makes it read that device's folder again (at most once per REFRESH_MS per device), so a
 * policy recorded meanwhile (a node provisioned or updated by another tool) is found.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { openSignedPolicy, SignedPolicyError } from "../../src/policy/signed-policy.js";
import { isValidId } from "../../src/uplink/topics.js";
import { writeFileAtomic } from "../node/atomic-file.js";

export const POLICIES_FOLDER = "policies";
/** The newest policies of a device a message is tried against (a transition spans two). */
export const POLICIES_PER_DEVICE = 4;
const REFRESH_MS = 1_000;
const FILE_NAME = /^([1-9][0-9]{0,15})\.cose$/;

export interface KnownPolicy {
  readonly serial: number;
  readonly hash: Uint8Array;
  readonly hashHex: string;
  readonly name: string;
  /** Days the policy says the city keeps the node's window summaries (its retention.summariesDays), when known. */
  readonly summariesDays: number | undefined;
  /** Days it says health reports are kept (retention.healthDays), when known. */
  readonly healthDays: number | undefined;
  /**
   * Where the collector learnt it: the operator's record (a policy the operator signed), or only
   * the node's latest disclosure (policy-sources.ts), which is weaker when the disclosure did not
   * verify: a message bound to it shows what the node runs, not that the operator signed it.
   */
  readonly from: "record" | "verified-disclosure" | "unverified-disclosure";
}

/** Records a node's signed policy for the collector (provisioning, policy updates). */
export function recordSignedPolicy(stateDir: string, device: string, serial: number, signed: Uint8Array): void {
  if (!isValidId(device)) throw new RangeError(`not a device id: ${device}`);
  const folder = join(stateDir, POLICIES_FOLDER, device);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  // It holds the node's exact position (provisioning data, never published): private, as the keyring.
  writeFileAtomic(join(folder, `${serial}.cose`), signed, 0o600);
}

export class PolicyRegistry {
  readonly #stateDir: string;
  readonly #operatorKey: Uint8Array;
  readonly #zones: (device: string) => string | undefined;
  readonly #byDevice = new Map<string, KnownPolicy[]>();
  /** When each device's folder was last read (bounded by the keyring: only its devices are read). */
  readonly #readAtMs = new Map<string, number>();
  /** Files that did not verify or name their device (counted at every read). */
  ignored = 0;

  constructor(stateDir: string, operatorKey: Uint8Array, zoneOf: (device: string) => string | undefined) {
    this.#stateDir = stateDir;
    this.#operatorKey = operatorKey;
    this.#zones = zoneOf;
    this.#read(Date.now());
  }

  /** The device's newest recorded policies, newest first. */
  policiesOf(device: string): readonly KnownPolicy[] {
    return this.#byDevice.get(device) ?? [];
  }

  /** Reads `device`'s folder again, unless it was read less than REFRESH_MS ago; true when it did. */
  refresh(nowMs: number, device: string): boolean {
    if (nowMs - (this.#readAtMs.get(device) ?? -Infinity) < REFRESH_MS) return false;
    this.#readDevice(device, nowMs);
    return true;
  }

  #read(nowMs: number): void {
    const root = join(this.#stateDir, POLICIES_FOLDER);
    if (!existsSync(root)) return;
    for (const device of readdirSync(root)) this.#readDevice(device, nowMs);
  }

  #readDevice(device: string, nowMs: number): void {
    const zone = isValidId(device) ? this.#zones(device) : undefined;
    if (zone === undefined) return;
    this.#readAtMs.set(device, nowMs);
    const folder = join(this.#stateDir, POLICIES_FOLDER, device);
    if (!existsSync(folder)) return;
    const known: KnownPolicy[] = [];
    for (const file of readdirSync(folder)) {
      const serial = FILE_NAME.exec(file)?.[1];
      if (serial === undefined) continue;
      try {
        const opened = openSignedPolicy(new Uint8Array(readFileSync(join(folder, file))), this.#operatorKey, { device, zone });
        if (opened.serial !== Number(serial)) throw new SignedPolicyError("invalid", "its serial differs from its file name");
        known.push({ serial: opened.serial, hash: opened.hash, hashHex: bytesToHex(opened.hash), name: opened.policy.name, summariesDays: opened.policy.retention.summariesDays, healthDays: opened.policy.retention.healthDays, from: "record" });
      } catch (error) {
        if (!(error instanceof SignedPolicyError) && !(error instanceof Error && "code" in error)) throw error;
        this.ignored++;
      }
    }
    known.sort((a, b) => b.serial - a.serial);
    if (known.length > 0) this.#byDevice.set(device, known.slice(0, POLICIES_PER_DEVICE));
  }
}
