/**
 * Fuzzing the node's downlink (docs/fuzzing.md): the command plaintext decoder (decodeCommand,
 * src/uplink/downlink-command.ts) and everything that reaches `.../cmd` through
 * CommandReceiver.receive() (src/uplink/command-receiver.ts), with random payloads and mutated
 * commands sealed as the commander seals them. The receiver's persisted replay record is fuzzed
 * with the other store records (store-records.test.ts).
 *
 * decodeCommand declares CommandFormatError only. receive() declares that it never throws and
 * answers with an outcome; "failed" is kept for a handler or store that throws, so on these inputs
 * (whose handler and store never do) it would mean an undeclared exception inside the receiver.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../../src/policy/audit-log.js";
import { CommandReceiver, COMMAND_OUTCOMES, type CommandOutcome } from "../../src/uplink/command-receiver.js";
import { CommandFormatError, COMMAND_NAMES, decodeCommand, encodeCommand, MAX_COMMAND_BYTES, sealCommand, type DownlinkCommand } from "../../src/uplink/downlink-command.js";
import { downlinkKeysFromRoot, type EpochKeys } from "../../src/wire/key-schedule.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { sealEncrypt0 } from "../../src/wire/cose-encrypt0.js";
import { encodeKid } from "../../src/wire/kid.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { anyBytes, applyMutations, expectOnly, fuzzProperty, mutantsOf, mutation } from "../support/fuzz.js";

const DEVICE = "street-01";
const TOPIC = `civicnode/demo-street/${DEVICE}/cmd`;
const ROOT = new Uint8Array(32).fill(0x5c);
const START = Date.UTC(2026, 6, 15, 6, 0, 0);
const NOW_S = START / 1000;

const commandArb: fc.Arbitrary<DownlinkCommand> = fc.record({
  name: fc.constantFrom(...COMMAND_NAMES),
  issued: fc.oneof(fc.integer({ min: NOW_S - 3600, max: NOW_S + 3600 }), fc.maxSafeNat()),
  args: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.string({ maxLength: 12 })), { maxKeys: 8 }),
});

/** A receiver as the node builds it, over a store, a set clock and an audit log; its handler records. */
function receiver(store = new MemoryStore()) {
  const clock = new SimClock({ startWallMs: START });
  const audit = new AuditLog(store);
  const handled: DownlinkCommand[] = [];
  const keys = downlinkKeysFromRoot(ROOT, DEVICE);
  const r = new CommandReceiver(store, DEVICE, TOPIC, () => keys, clock, audit, (command) => {
    handled.push(command);
    return "accepted";
  });
  r.load();
  return { receiver: r, handled, audit, clock, store };
}

function receiveChecked(r: CommandReceiver, payload: Uint8Array): CommandOutcome {
  let outcome: CommandOutcome;
  try {
    outcome = r.receive(payload);
  } catch (error) {
    throw new Error(`CommandReceiver.receive threw ${(error as Error).name}`, { cause: error });
  }
  expect(COMMAND_OUTCOMES).toContain(outcome);
  expect(outcome).not.toBe("failed");
  return outcome;
}

const keys = (): EpochKeys => downlinkKeysFromRoot(ROOT, DEVICE);
const sealed = fc.tuple(commandArb, fc.integer({ min: 0, max: 5000 })).map(([command, counter]) => ({ command, counter, bytes: sealCommand(command, DEVICE, TOPIC, keys(), counter) }));

describe("downlink commands under fuzzing", () => {
  it("decodeCommand: random and mutated plaintexts give CommandFormatError or a well-formed command", () => {
    const input = fc.oneof(anyBytes(300), mutantsOf(commandArb.map(encodeCommand)).map((m) => m.bytes));
    fuzzProperty("downlink.decode", 3000, input, (bytes) => {
      const command = expectOnly([CommandFormatError], () => decodeCommand(bytes));
      if (!command) return;
      expect(COMMAND_NAMES).toContain(command.name);
      expect(Number.isSafeInteger(command.issued) && command.issued >= 0).toBe(true);
      const args = Object.entries(command.args);
      expect(args.length).toBeLessThanOrEqual(8);
      for (const [, value] of args) expect(typeof value === "number" || typeof value === "string").toBe(true);
    });
  });

  it("receive(): random payloads are refused, never run, never throw", () => {
    fuzzProperty("downlink.receive-random", 2000, fc.oneof(anyBytes(600), fc.constant(new Uint8Array(MAX_COMMAND_BYTES + 1))), (payload) => {
      const { receiver: r, handled } = receiver();
      expect(receiveChecked(r, payload)).not.toBe("accepted");
      expect(handled).toEqual([]);
    });
  });

  it("receive(): a mutated sealed command runs only as the command that was sealed, and only once", () => {
    const input = fc.tuple(sealed, sealed, fc.array(mutation, { maxLength: 3 }));
    fuzzProperty("downlink.receive-mutated", 1000, input, ([a, b, mutations]) => {
      const { receiver: r, handled } = receiver();
      const payload = applyMutations(a.bytes, mutations, b.bytes);
      const outcome = receiveChecked(r, payload);
      if (outcome !== "accepted") {
        expect(handled).toEqual([]);
        return;
      }
      expect(handled.length).toBe(1);
      expect([a.command, b.command]).toContainEqual(handled[0]);
      // The same bytes again are a replay, whatever else they are.
      expect(receiveChecked(r, payload)).toBe("replay");
      expect(handled.length).toBe(1);
    });
  });

  it("receive(): authentic commands whose plaintext is anything are refused as malformed", () => {
    const plaintext = fc.oneof(anyBytes(200), mutantsOf(commandArb.map(encodeCommand)).map((m) => m.bytes));
    fuzzProperty("downlink.authentic-plaintext", 1000, fc.tuple(plaintext, fc.nat({ max: 1000 })), ([bytes, counter]) => {
      const payload = sealEncrypt0(new CborWriter(4096), bytes, keys(), encodeKid(DEVICE, 0xffffffff), counter, utf8Encode(TOPIC)).slice();
      const { receiver: r, handled } = receiver();
      const outcome = receiveChecked(r, payload);
      const command = expectOnly([CommandFormatError], () => decodeCommand(bytes));
      if (command === undefined) expect(outcome).toBe(payload.length > MAX_COMMAND_BYTES ? "oversized" : "malformed");
      else expect(handled.length === 0 || handled[0]!.name === command.name).toBe(true);
    });
  });
});
