import { describe, expect, it } from "vitest";
import { Keyring, KeyringError } from "../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { sealEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { epochKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { encodeKid } from "../../../src/wire/kid.js";
import { writeSenmlPack } from "../../../src/wire/senml.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const TOPIC = "civicnode/old-town/lamp-7/summary";

function keyring(): Keyring {
  const k = new Keyring();
  k.add("lamp-7", "old-town", ROOT);
  return k;
}

function summaryPlaintext(device = "lamp-7", windowStart = 1_800_000_000): Uint8Array {
  const w = new CborWriter(256);
  writeSenmlPack(w, `${device}/`, windowStart, [
    { name: "window", unit: "s", value: 300 },
    { name: "temperature/mean", unit: "Cel", value: 4.25 },
    { name: "noise/status", status: "missing" },
  ]);
  return w.written().slice();
}

function seal(counter: number, plaintext = summaryPlaintext(), topic = TOPIC, epoch = 0, device = "lamp-7"): Uint8Array {
  return sealEncrypt0(new CborWriter(512), plaintext, epochKeysFromRoot(ROOT, device, epoch), encodeKid(device, epoch), counter, utf8Encode(topic)).slice();
}

describe("MessageOpener", () => {
  it("opens a genuine summary into channels", () => {
    const sealed = seal(3);
    const result = new MessageOpener(keyring()).open(TOPIC, sealed);
    expect(result).toEqual({
      ok: true,
      kind: "summary",
      use: { device: "lamp-7", epoch: 0, counter: 3, tag: sealed.slice(-16), sealedAt: 1_800_000_300 },
      summary: {
        zone: "old-town",
        device: "lamp-7",
        epoch: 0,
        counter: 3,
        windowStart: 1_800_000_000,
        windowSeconds: 300,
        channels: { temperature: { mean: 4.25, unit: "Cel" }, noise: { status: "missing" } },
      },
    });
  });

  it("accepts late, out-of-order messages once and refuses their replays", () => {
    const opener = new MessageOpener(keyring());
    const order = [10, 12, 11, 5, 12, 5, 100, 11, 40];
    const verdicts = order.map((c) => {
      const r = opener.open(TOPIC, seal(c));
      return r.ok ? "ok" : r.cause;
    });
    expect(verdicts).toEqual(["ok", "ok", "ok", "ok", "duplicate", "duplicate", "ok", "duplicate", "ok"]);
  });

  it("does not let a forgery move the replay window", () => {
    const opener = new MessageOpener(keyring());
    expect(opener.open(TOPIC, seal(1)).ok).toBe(true);
    const forged = seal(1_000_000);
    forged[forged.length - 1]! ^= 1;
    expect(opener.open(TOPIC, forged)).toMatchObject({ ok: false, cause: "authentication" });
    expect(opener.open(TOPIC, seal(2)).ok).toBe(true); // still inside the window
  });

  it.each([
    ["civicnode/old-town/lamp-7/cmd", () => seal(1), "topic"],
    ["weather/station", () => seal(1), "topic"],
    [TOPIC, () => new Uint8Array(5000), "oversized"],
    [TOPIC, () => Uint8Array.of(0xa0), "malformed"],
    ["civicnode/old-town/lamp-8/summary", () => seal(1, summaryPlaintext("lamp-8"), "civicnode/old-town/lamp-8/summary", 0, "lamp-8"), "unknown-device"],
    ["civicnode/new-town/lamp-7/summary", () => seal(1, summaryPlaintext(), "civicnode/new-town/lamp-7/summary"), "kid-mismatch"],
    [TOPIC, () => seal(1, utf8Encode("not senml")), "payload"],
    [TOPIC, () => seal(1, summaryPlaintext("lamp-9")), "payload"],
  ])("rejects %s (%#) as %s", (topic, message, cause) => {
    expect(new MessageOpener(keyring()).open(topic, message())).toMatchObject({ ok: false, cause });
  });

  it("rejects a message whose kid names another epoch than the key it was sealed with", () => {
    const body = seal(1, summaryPlaintext(), TOPIC, 0);
    const kid0 = encodeKid("lamp-7", 0);
    const at = Buffer.from(body).indexOf(Buffer.from(kid0));
    body[at + kid0.length - 1] = 1; // the kid now says epoch 1
    expect(new MessageOpener(keyring()).open(TOPIC, body)).toMatchObject({ ok: false, cause: "authentication" });
  });

  it("opens a health report into node counters and per-sensor state", () => {
    const w = new CborWriter(512);
    writeSenmlPack(w, "lamp-7/", 1_800_000_300, [
      { name: "uptime", unit: "s", value: 3600 },
      { name: "queue", value: 2 },
      { name: "pm/status", status: "faulty" },
      { name: "pm/readings", value: 3400 },
      { name: "pm/faults", value: 1 },
      { name: "pm/drops/checksum", value: 12 },
      { name: "climate/status", status: "ok" },
    ]);
    const healthTopic = "civicnode/old-town/lamp-7/health";
    const sealed = seal(4, w.written().slice(), healthTopic);
    const result = new MessageOpener(keyring()).open(healthTopic, sealed);
    expect(result).toEqual({
      ok: true,
      kind: "health",
      use: { device: "lamp-7", epoch: 0, counter: 4, tag: sealed.slice(-16), sealedAt: 1_800_000_300 },
      health: {
        zone: "old-town",
        device: "lamp-7",
        epoch: 0,
        counter: 4,
        time: 1_800_000_300,
        node: { uptime: 3600, queue: 2 },
        budget: {},
        commands: {},
        audit: [],
        sensors: { pm: { status: "faulty", readings: 3400, faults: 1, drops: { checksum: 12 } }, climate: { status: "ok", drops: {} } },
      },
    });
    // A summary re-published as health (or back) fails: the topic is authenticated.
    expect(new MessageOpener(keyring()).open(healthTopic, seal(5))).toMatchObject({ ok: false, cause: "authentication" });
  });

  it("opens summaries of any epoch from the root key", () => {
    expect(new MessageOpener(keyring()).open(TOPIC, seal(0, summaryPlaintext(), TOPIC, 7)).ok).toBe(true);
  });
});

describe("Keyring", () => {
  it("round-trips its documented JSON format", () => {
    const k = keyring();
    const parsed = Keyring.parse(k.serialize());
    expect(parsed.get("lamp-7")!.rootKey).toEqual(ROOT);
    expect(JSON.parse(k.serialize())).toMatchObject({ format: "civicnode-keyring", version: 1, devices: { "lamp-7": { zone: "old-town" } } });
  });

  it("provisions distinct 256-bit keys", () => {
    const k = new Keyring();
    k.provision("a", "z");
    k.provision("b", "z");
    expect(k.get("a")!.rootKey).toHaveLength(32);
    expect(k.get("a")!.rootKey).not.toEqual(k.get("b")!.rootKey);
    expect(k.provision("a", "z")).toBe(false);
  });

  it("rejects a bad keyring without quoting any key material", () => {
    const bad = JSON.stringify({ format: "civicnode-keyring", version: 1, devices: { "lamp-7": { zone: "old-town", rootKey: "ab".repeat(31) + "ZZ" } } });
    expect(() => Keyring.parse(bad)).toThrow(KeyringError);
    try {
      Keyring.parse(bad);
    } catch (error) {
      expect((error as Error).message).not.toContain("abab");
    }
    expect(() => Keyring.parse("{")).toThrow(KeyringError);
    expect(() => Keyring.parse(JSON.stringify({ format: "other", version: 1, devices: {} }))).toThrow(KeyringError);
  });
});
