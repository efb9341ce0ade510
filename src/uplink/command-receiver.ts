/**
 * Takes downlink commands off `civicnode/<zone>/<device>/cmd` and lets through only what is
 * authentic, new, fresh and within the policy's bounds. Every command, accepted or refused, is
 * counted by outcome and audited: an accepted command, and an authentic one that the policy's
 * bounds refuse or that fails, is an entry of its own in the audit chain; every other refusal
 * (what anyone who can publish to the broker can cause, a thousand times a minute) is tallied by
 * outcome, so that a flood cannot push the record of an accepted change out of the log.
 *
 *   size -> COSE envelope -> kid names this device's downlink key -> replay window (persisted, so a
 *   reboot does not reopen it) -> AEAD under the downlink key, topic as AAD -> command format ->
 *   issued within a day of the node's clock -> the handler checks the policy's bounds -> execute
 *
 * The replay window moves only for an authentic command, and it is stored before the command
 * runs: a power cut can lose a command, never run one twice.
 *
 * A command of several parts (a policy update's chunks: policy-update-receiver.ts) is audited by
 * its handler once it is whole, not part by part: each part is counted as `partial`, so that the
 * thirty chunks of one update do not take the audit log's places.
 */
import type { Clock, KeyValueStore } from "../platform.js";
import type { AuditLog } from "../policy/audit-log.js";
import { crc32 } from "../wire/crc32.js";
import { CoseOpenError, openEncrypt0, parseEncrypt0 } from "../wire/cose-encrypt0.js";
import type { EpochKeys } from "../wire/key-schedule.js";
import { decodeKid } from "../wire/kid.js";
import { ReplayWindow } from "../wire/replay-window.js";
import { utf8Encode } from "../wire/utf8.js";
import { CommandFormatError, decodeCommand, DOWNLINK_KID_EPOCH, MAX_COMMAND_BYTES, type DownlinkCommand } from "./downlink-command.js";

export const COMMAND_REPLAY_STORE_KEY = "cmd.replay";
const REPLAY_WINDOW = 64;
/** Commands issued longer ago (or further ahead) than this are refused as stale. */
const MAX_COMMAND_AGE_S = 86_400;

export type CommandOutcome = "accepted" | "partial" | "oversized" | "malformed" | "kid" | "replay" | "authentication" | "stale" | "bounds" | "failed";
export const COMMAND_OUTCOMES: readonly CommandOutcome[] = ["accepted", "partial", "oversized", "malformed", "kid", "replay", "authentication", "stale", "bounds", "failed"];

/**
 * How a handler's outcome is audited: "entry" (the default: an entry of its own for "accepted",
 * "bounds" and "failed"), "none" (the handler audits it itself, or it is a part of a longer
 * command) or "tally" (tallied by outcome, as refusals anyone can cause are).
 */
export interface CommandVerdict {
  readonly outcome: CommandOutcome;
  readonly audit: "entry" | "none" | "tally";
}

/** Runs an authentic command; returns "accepted", "partial", "bounds" (outside the policy) or "failed". */
export type CommandHandler = (command: DownlinkCommand) => CommandOutcome | CommandVerdict;

export class CommandReceiver {
  readonly #store: KeyValueStore;
  readonly #device: string;
  readonly #aad: Uint8Array;
  readonly #keys: () => EpochKeys;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #handler: CommandHandler;
  #window = new ReplayWindow(REPLAY_WINDOW);
  readonly counts: Record<CommandOutcome, number> = { accepted: 0, partial: 0, oversized: 0, malformed: 0, kid: 0, replay: 0, authentication: 0, stale: 0, bounds: 0, failed: 0 };

  constructor(store: KeyValueStore, device: string, topic: string, keys: () => EpochKeys, clock: Clock, audit: AuditLog, handler: CommandHandler) {
    this.#store = store;
    this.#device = device;
    this.#aad = utf8Encode(topic);
    this.#keys = keys;
    this.#clock = clock;
    this.#audit = audit;
    this.#handler = handler;
  }

  /**
   * Restores the replay window. When its record is unreadable, the node cannot tell old commands
   * from new ones by counter: it then accepts only commands issued after it started listening.
   */
  load(): void {
    const record = this.#store.get(COMMAND_REPLAY_STORE_KEY);
    if (!record) return;
    const intact = record.length > 4 && crc32(record, 0, record.length - 4) === new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(record.length - 4);
    const window = intact ? ReplayWindow.import(record.subarray(0, record.length - 4), REPLAY_WINDOW) : undefined;
    if (window) this.#window = window;
    else {
      this.#historyLost = true;
      if (this.#clock.wallSynced()) this.#notBeforeS = Math.floor(this.#clock.wallMs() / 1000);
      this.#audit.append(this.#auditTime(), "command-history-lost", "only newly issued commands");
    }
  }

  /** Set when the replay record was lost: commands must be issued after `#notBeforeS`. */
  #historyLost = false;
  #notBeforeS: number | undefined;

  /** Handles one message from the command topic. Never throws. */
  receive(payload: Uint8Array): CommandOutcome {
    let outcome: CommandOutcome;
    let what = "";
    let audit: CommandVerdict["audit"] = "entry";
    this.#authentic = false;
    try {
      ({ outcome, what, audit } = this.#process(payload));
    } catch (error) {
      outcome = "failed";
      what = (error as Error).name;
    }
    this.counts[outcome]++;
    if (audit === "none") return outcome;
    if (audit === "entry" && outcome === "accepted") this.#audit.append(this.#auditTime(), "command-accepted", what);
    else if (audit === "entry" && this.#authentic && (outcome === "bounds" || outcome === "failed")) this.#audit.append(this.#auditTime(), "command-refused", `${outcome} ${what}`);
    else this.#audit.refused(this.#auditTime(), outcome);
    return outcome;
  }

  /**
   * Set once the message in hand is authentic and fresh, issued by the holder of the downlink key
   * now: only such a refusal is worth an entry of its own (a replay of an old command is not).
   */
  #authentic = false;

  /** Audit time: Unix seconds, or 0 while the wall clock is not set. */
  #auditTime(): number {
    return this.#clock.wallSynced() ? this.#clock.wallMs() / 1000 : 0;
  }

  #process(payload: Uint8Array): { outcome: CommandOutcome; what: string; audit: CommandVerdict["audit"] } {
    const refused = (outcome: CommandOutcome, what = "") => ({ outcome, what, audit: "entry" as const });
    if (payload.length > MAX_COMMAND_BYTES) return refused("oversized");
    let envelope;
    try {
      envelope = parseEncrypt0(payload);
    } catch (error) {
      if (error instanceof CoseOpenError) return refused("malformed");
      throw error;
    }
    const kid = decodeKid(envelope.kid);
    if (!kid || kid.device !== this.#device || kid.epoch !== DOWNLINK_KID_EPOCH) return refused("kid");
    if (this.#window.check(envelope.counter) !== "new") return refused("replay", String(envelope.counter));
    let plaintext;
    try {
      plaintext = openEncrypt0(envelope, this.#keys(), this.#aad);
    } catch (error) {
      if (error instanceof CoseOpenError) return refused("authentication");
      throw error;
    }
    let command: DownlinkCommand;
    try {
      command = decodeCommand(plaintext);
    } catch (error) {
      if (error instanceof CommandFormatError) return refused("malformed");
      throw error;
    } finally {
      plaintext.fill(0);
    }
    // Authentic: the counter is spent now, whatever follows, and stored before anything runs.
    this.#window.accept(envelope.counter);
    const exported = this.#window.export();
    const record = new Uint8Array(exported.length + 4);
    record.set(exported);
    new DataView(record.buffer).setUint32(exported.length, crc32(exported));
    this.#store.commit([{ key: COMMAND_REPLAY_STORE_KEY, value: record }]);
    const now = this.#clock.wallMs() / 1000;
    if (!this.#clock.wallSynced() || Math.abs(now - command.issued) > MAX_COMMAND_AGE_S) return refused("stale", command.name);
    if (this.#historyLost) {
      this.#notBeforeS ??= now;
      if (command.issued < this.#notBeforeS) return refused("replay", `${command.name} issued before the history was lost`);
    }
    this.#authentic = true;
    const handled = this.#handler(command);
    return typeof handled === "string" ? { outcome: handled, what: command.name, audit: "entry" } : { ...handled, what: command.name };
  }
}
