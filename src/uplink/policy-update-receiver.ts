/**
 * The node's side of `update-policy`: reassembles a policy update from its `policy-chunk`
 * commands (policy-chunks.ts), authentic and fresh each (command-receiver.ts), then has it
 * checked and stored (policy/policy-update.ts, which the host gives the node) and audits the
 * outcome once per update:
 *   policy-updated    "serial 2", or "serial 2 two keys" when the oversight key countersigned
 *   policy-refused    "serial 2 weakens /channels/7/privacy/k" (the reason, cut to 48 characters)
 *   policy-incomplete "<digest, 8 hex> 12/23 replaced" or "... timed out": an update given up
 * A chunk is counted `partial`; chunks of an update already taken or refused, sent again, are
 * tallied as `replay` (one refused because the store failed may be sent again). Only the holder of the downlink key can send chunks, so what is audited here cannot be
 * flooded by anyone on the broker.
 *
 * Bounded: one update at a time, in a buffer of at most POLICY_UPDATE_MAX_BYTES allocated when its
 * first chunk arrives and released when it is whole or given up. A chunk of another update starts
 * over (the city sends one update at a time); an update that receives no chunk for
 * POLICY_UPDATE_TIMEOUT_MS is given up at its next chunk or at `expire()` (each window's end).
 *
 * Once stored, the new policy is the node's from its next boot: the receiver asks the host to
 * restart the node (`restart`), after the audit entry is written. A host without a restart keeps
 * running the old policy until it boots again.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Clock, KeyValueStore, Log } from "../platform.js";
import type { AuditLog } from "../policy/audit-log.js";
import type { NodeConfig } from "../policy/node-config.js";
import type { PolicyUpdateApplier } from "../policy/policy-update.js";
import type { CommandVerdict } from "./command-receiver.js";
import type { DownlinkCommand } from "./downlink-command.js";
import { POLICY_CHUNK_BYTES, readPolicyChunk } from "./policy-chunks.js";

/** A partial update is given up after this long without a chunk (the city sends its chunks in seconds). */
export const POLICY_UPDATE_TIMEOUT_MS = 10 * 60_000;

interface Assembly {
  readonly digest: Uint8Array;
  readonly digestHex: string;
  readonly total: number;
  readonly buffer: Uint8Array;
  readonly have: Uint8Array;
  received: number;
  length: number;
  lastChunkMs: number;
}

export class PolicyUpdateReceiver {
  readonly #store: KeyValueStore;
  readonly #config: NodeConfig;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #log: Log;
  readonly #apply: PolicyUpdateApplier | undefined;
  readonly #restart: (() => void) | undefined;
  #assembly: Assembly | undefined;
  /** The digest of the last update decided (taken, refused or given up): its chunks again are replays. */
  #decided: string | undefined;
  /** The serial stored by an update taken since boot, which the node runs from its next boot. */
  pendingSerial: number | undefined;

  constructor(store: KeyValueStore, config: NodeConfig, clock: Clock, audit: AuditLog, log: Log, apply: PolicyUpdateApplier | undefined, restart: (() => void) | undefined) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
    this.#audit = audit;
    this.#log = log;
    this.#apply = apply;
    this.#restart = restart;
  }

  /** Bytes held for an update in reassembly (0 when none). */
  get bufferedBytes(): number {
    return this.#assembly?.buffer.length ?? 0;
  }

  /** One authentic `policy-chunk` command. */
  receive(command: DownlinkCommand): CommandVerdict {
    const chunk = readPolicyChunk(command.args);
    if (typeof chunk === "string") {
      this.#log("warn", "policy-chunk-refused", { device: this.#config.device, reason: chunk });
      return { outcome: "bounds", audit: "entry" };
    }
    const digestHex = bytesToHex(chunk.digest);
    if (digestHex === this.#decided) return { outcome: "replay", audit: "tally" };
    this.expire();
    let assembly = this.#assembly;
    if (assembly !== undefined && assembly.digestHex !== digestHex) {
      this.#giveUp(assembly, "replaced");
      assembly = undefined;
    }
    if (assembly === undefined) {
      if (this.#apply === undefined) return this.#refused(digestHex, undefined, "this node takes no policy updates");
      assembly = { digest: chunk.digest, digestHex, total: chunk.total, buffer: new Uint8Array(chunk.total * POLICY_CHUNK_BYTES), have: new Uint8Array(chunk.total), received: 0, length: 0, lastChunkMs: 0 };
      this.#assembly = assembly;
    }
    if (chunk.total !== assembly.total) return this.#refused(digestHex, undefined, `chunk ${chunk.index} names ${chunk.total} chunks, not ${assembly.total}`);
    const at = chunk.index * POLICY_CHUNK_BYTES;
    if (assembly.have[chunk.index] === 1) {
      const held = assembly.buffer.subarray(at, at + chunk.data.length);
      if (!held.every((byte, i) => byte === chunk.data[i])) return this.#refused(digestHex, undefined, `chunk ${chunk.index} twice, different`);
    } else {
      assembly.buffer.set(chunk.data, at);
      assembly.have[chunk.index] = 1;
      assembly.received++;
      assembly.length += chunk.data.length;
    }
    assembly.lastChunkMs = this.#clock.monotonicMs();
    if (assembly.received < assembly.total) return { outcome: "partial", audit: "none" };
    return this.#complete(assembly);
  }

  /** Gives up an update that has had no chunk for POLICY_UPDATE_TIMEOUT_MS, and frees its buffer. */
  expire(): void {
    const assembly = this.#assembly;
    if (assembly !== undefined && this.#clock.monotonicMs() - assembly.lastChunkMs >= POLICY_UPDATE_TIMEOUT_MS) this.#giveUp(assembly, "timed out");
  }

  #complete(assembly: Assembly): CommandVerdict {
    this.#assembly = undefined;
    const update = assembly.buffer.subarray(0, assembly.length);
    const digest = sha256(update);
    if (!digest.every((byte, i) => byte === assembly.digest[i])) return this.#refused(assembly.digestHex, undefined, "digest does not match");
    const verdict = this.#apply!(update, this.#store, this.#config);
    if (!verdict.accepted) {
      // A store that failed may take the same update later: it is not decided.
      const refusal = this.#refused(verdict.storeFailure === undefined ? assembly.digestHex : undefined, verdict.serial, verdict.reason);
      return verdict.storeFailure === undefined ? refusal : { outcome: "failed", audit: "none" };
    }
    this.#decided = assembly.digestHex;
    this.pendingSerial = verdict.serial;
    this.#audit.append(this.#time(), "policy-updated", `serial ${verdict.serial}${verdict.twoKeys ? " two keys" : ""}`);
    this.#log("info", "policy-updated", { device: this.#config.device, serial: verdict.serial, twoKeys: verdict.twoKeys, action: this.#restart ? "restarting to apply it" : "applied at the next boot" });
    this.#restart?.();
    return { outcome: "accepted", audit: "none" };
  }

  /** Audits a refusal; `digestHex` (the update refused) is decided, and dropped when in reassembly. */
  #refused(digestHex: string | undefined, serial: number | undefined, reason: string): CommandVerdict {
    if (digestHex !== undefined) this.#decided = digestHex;
    if (digestHex !== undefined && this.#assembly?.digestHex === digestHex) this.#assembly = undefined;
    this.#audit.append(this.#time(), "policy-refused", serial === undefined ? reason : `serial ${serial} ${reason}`);
    this.#log("warn", "policy-refused", { device: this.#config.device, ...(serial === undefined ? {} : { serial }), reason });
    return { outcome: "bounds", audit: "none" };
  }

  #giveUp(assembly: Assembly, why: "replaced" | "timed out"): void {
    this.#assembly = undefined;
    this.#audit.append(this.#time(), "policy-incomplete", `${assembly.digestHex.slice(0, 8)} ${assembly.received}/${assembly.total} ${why}`);
  }

  /** Audit time: Unix seconds, or 0 while the wall clock is not set. */
  #time(): number {
    return this.#clock.wallSynced() ? this.#clock.wallMs() / 1000 : 0;
  }
}
