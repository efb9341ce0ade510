/**
 * End to end over real TCP: the embedded broker, a street of 3 simulated nodes (the real core, the
 * Node platform, the simulated reference board), and the collector, for several windows. A second,
 * independent MQTT client captures the wire traffic for tampering and for independent decryption.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecipheriv, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { decode as cbor2Decode, Tag } from "cbor2";
import { Collector, type SummaryLine } from "../../hosts/collector/collector.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../hosts/node/embedded-broker.js";
import { Fleet } from "../../hosts/node/fleet.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { openEncrypt0, parseEncrypt0, sealEncrypt0 } from "../../src/wire/cose-encrypt0.js";
import { epochKeysFromRoot } from "../../src/wire/key-schedule.js";
import { encodeKid } from "../../src/wire/kid.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { readSenmlPack, writeSenmlPack } from "../../src/wire/senml.js";
import { storedLines, testCollectorDb } from "../support/collector-db.js";
import { testOperatorKey } from "../support/operator-key.js";
import { messageAad } from "../../src/wire/message-aad.js";
import { flashPath } from "../../hosts/node/flash-provisioning.js";
import { waitFor, waitForQuiet } from "../support/wait-for.js";

const DEVICES = ["street-01", "street-02", "street-03"];
const ZONE = "demo-street";
const WINDOWS = 4;
const START = Date.UTC(2026, 0, 14, 7, 0, 0); // a January morning
/** Opened at the top of the file, so that it is removed after it (testCollectorDb's own afterAll). */
const db = await testCollectorDb();

interface Captured {
  readonly topic: string;
  readonly payload: Uint8Array;
}

describe("a street end to end over a real broker", () => {
  let stateDir: string;
  let broker: EmbeddedBroker;
  let collector: Collector;
  let fleet: Fleet;
  let spy: MqttClient;
  let keyring: Keyring;
  const captured: Captured[] = [];
  const lines: SummaryLine[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "civicnode-e2e-"));
    keyring = new Keyring();
    for (const device of DEVICES) keyring.provision(device, ZONE);
    broker = await startEmbeddedBroker();
    collector = new Collector({ brokerUrl: broker.url, keyring, db, jsonl: join(stateDir, "summaries.jsonl") });
    collector.onSummary((line) => lines.push(line));
    await collector.start();
    spy = await connectAsync(broker.url, { clientId: "e2e-spy" });
    spy.on("message", (topic, payload) => captured.push({ topic, payload: new Uint8Array(payload) }));
    await spy.subscribeAsync("civicnode/#", { qos: 1 });
    fleet = new Fleet({ brokerUrl: broker.url, devices: DEVICES, zone: ZONE, speed: 1200, stateDir, keyring, operator: testOperatorKey(stateDir), startWallMs: START, log: () => {} });
    await fleet.start();
    await waitFor(() => DEVICES.every((d) => lines.filter((l) => l.device === d).length >= WINDOWS), "every node's windows", 20_000);
    await fleet.stop();
    // What the nodes sent before stopping may still be on its way: the counts below start after it.
    await waitForQuiet(() => collector.stats.accepted + collector.rejectedTotal + captured.length, "the broker's last deliveries");
  });

  afterAll(async () => {
    await fleet?.stop();
    await spy?.endAsync(true);
    await collector?.stop();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("delivers every node's summaries, decrypted, with values in the simulated range", () => {
    expect(collector.rejectedTotal).toBe(0);
    for (const device of DEVICES) {
      const mine = lines.filter((l) => l.device === device);
      expect(mine.length).toBeGreaterThanOrEqual(WINDOWS);
      // counters rise (health reports, every quarter hour, take their numbers from the same counter)
      expect(mine.map((l) => l.counter)).toEqual([...mine.map((l) => l.counter)].sort((a, b) => a - b));
      expect(new Set(mine.map((l) => l.counter)).size).toBe(mine.length);
      expect(Object.keys(mine[0]!.channels)).toHaveLength(11);
      const node = fleet.nodes.find((n) => n.device === device)!;
      for (const line of mine) {
        expect(line.windowSeconds).toBe(300);
        expect(line.windowStart % 300).toBe(0);
        const t = line.channels.temperature!;
        const rh = line.channels.humidity!;
        // The air at the node's site over that window, within the part's noise and calibration.
        const truth = [0, 150, 299].map((s) => node.parts.climate.at((line.windowStart + s) * 1000));
        expect(t.mean!).toBeGreaterThan(Math.min(...truth.map((c) => c.temperatureC)) - 1);
        expect(t.mean!).toBeLessThan(Math.max(...truth.map((c) => c.temperatureC)) + 1);
        expect(rh.mean!).toBeGreaterThan(Math.min(...truth.map((c) => c.humidityPct)) - 5);
        expect(rh.mean!).toBeLessThan(Math.max(...truth.map((c) => c.humidityPct)) + 5);
        expect(t.count).toBeGreaterThanOrEqual(29);
        expect(t.unit).toBe("Cel");
      }
    }
  });

  it("stores the decoded summaries in its database, and exports them as JSON lines", async () => {
    const { summaries } = await storedLines(db);
    expect(summaries.length).toBe(lines.length);
    const byMessage = new Map(lines.map((l) => [`${l.device}/${l.epoch}/${l.counter}`, l]));
    for (const summary of summaries) {
      const line = byMessage.get(`${summary.device}/${summary.epoch}/${summary.counter}`)!;
      expect(line).toBeDefined();
      expect(summary).toMatchObject({ zone: ZONE, windowStart: line.windowStart, windowSeconds: 300, channels: line.channels });
    }
    const written = readFileSync(join(stateDir, "summaries.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(written.length).toBe(lines.length + collector.stats.healthReports);
    expect(written.filter((l) => l.kind === "summary")).toHaveLength(lines.length);
    expect(written.find((l) => l.kind === "summary")).toMatchObject({ zone: ZONE, windowSeconds: 300, channels: { temperature: { unit: "Cel" } } });
  });

  it("decrypts identically through an independent path (OpenSSL ChaCha20-Poly1305 + cbor2)", () => {
    const summaries = captured.filter((m) => m.topic.endsWith("/summary"));
    expect(summaries.length).toBeGreaterThanOrEqual(DEVICES.length * WINDOWS);
    for (const message of summaries) {
      const device = message.topic.split("/")[2]!;
      const tag = cbor2Decode(message.payload, { preferMap: true }) as Tag;
      expect(tag.tag).toBe(16);
      const [protectedBytes, unprotected, ciphertext] = tag.contents as [Uint8Array, Map<number, Uint8Array>, Uint8Array];
      const kid = unprotected.get(4)!;
      const epoch = Buffer.from(kid).readUInt32BE(kid.length - 4);
      expect(Buffer.from(kid.subarray(0, kid.length - 4)).toString("utf8")).toBe(device);
      const keys = epochKeysFromRoot(keyring.get(device)!.rootKey, device, epoch);
      const partialIv = unprotected.get(6)!;
      const nonce = Buffer.from(keys.baseIv);
      for (let i = 0; i < partialIv.length; i++) nonce[12 - partialIv.length + i]! ^= partialIv[i]!;
      // Enc_structure = ["Encrypt0", protected, external_aad = topic || SHA-256 of the node's signed
      // policy payload], built by hand here from the node's flash (docs/wire-format.md).
      const external = Buffer.concat([Buffer.from(message.topic, "utf8"), policyHashFromFlash(device)]);
      const aad = Buffer.concat([Buffer.from([0x83, 0x68]), Buffer.from("Encrypt0"), cborBytesHead(protectedBytes.length), protectedBytes, cborBytesHead(external.length), external]);
      const decipher = createDecipheriv("chacha20-poly1305", keys.key, nonce, { authTagLength: 16 });
      decipher.setAAD(aad, { plaintextLength: ciphertext.length - 16 });
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
      const plaintext = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
      const pack = cbor2Decode(plaintext, { preferMap: true }) as Map<number, unknown>[];
      const counter = partialIv.reduce((n, b) => n * 256 + b, 0);
      const line = lines.find((l) => l.device === device && l.counter === counter)!;
      expect(line).toBeDefined();
      expect(pack[0]!.get(-2)).toBe(`${device}/`);
      expect(pack[0]!.get(-3)).toBe(line.windowStart);
      const byName = new Map(pack.map((r) => [r.get(0) as string, r]));
      expect(byName.get("temperature/mean")!.get(2)).toBe(line.channels.temperature!.mean);
      expect(byName.get("humidity/max")!.get(2)).toBe(line.channels.humidity!.max);
      expect(byName.get("temperature/count")!.get(2)).toBe(line.channels.temperature!.count);
    }
  });

  it("rejects and counts a flipped ciphertext bit and a summary re-published under another node's topic", async () => {
    const original = captured.find((m) => m.topic === `civicnode/${ZONE}/street-01/summary`)!;
    const before = { ...collector.stats.rejected };
    const acceptedBefore = collector.stats.accepted;
    // A genuine summary the collector has not seen yet (street-01's next counters, a window a day
    // after the original's, since one window is stored once), altered in transit.
    const fresh = sealLikeTheNode("street-01", 5000, original.topic, laterSummaryPlaintext(original, 86_400));
    const flipped = fresh.slice();
    flipped[flipped.length - 20]! ^= 0x04; // inside the ciphertext
    await spy.publishAsync(original.topic, Buffer.from(flipped), { qos: 1 });
    await spy.publishAsync(`civicnode/${ZONE}/street-02/summary`, Buffer.from(original.payload), { qos: 1 });
    await spy.publishAsync(original.topic, Buffer.from("garbage from the broker"), { qos: 1 });
    await waitFor(() => collector.rejectedTotal >= 3, "three rejections", 5000);
    expect(collector.stats.rejected.authentication).toBe(before.authentication + 1);
    expect(collector.stats.rejected["kid-mismatch"]).toBe(before["kid-mismatch"] + 1);
    expect(collector.stats.rejected.malformed).toBe(before.malformed + 1);
    expect(collector.stats.accepted).toBe(acceptedBefore);
    // The unaltered message is accepted: the flipped bit alone made the difference...
    await spy.publishAsync(original.topic, Buffer.from(fresh), { qos: 1 });
    await waitFor(() => collector.stats.accepted === acceptedBefore + 1, "the genuine summary", 5000);
    // ...and a verbatim replay of an accepted summary is refused (counter 5000 moved the window past it).
    await spy.publishAsync(original.topic, Buffer.from(original.payload), { qos: 1 });
    await waitFor(() => collector.stats.rejected.replay === before.replay + 1, "the replay", 5000);
    expect(collector.stats.accepted).toBe(acceptedBefore + 1);
  });

  /** SHA-256 of the payload of the signed policy in `device`'s flash, with cbor2 and node:crypto. */
  function policyHashFromFlash(device: string): Buffer {
    const entries = JSON.parse(readFileSync(flashPath(stateDir, device), "utf8")).entries as Record<string, string>;
    const signed = cbor2Decode(Buffer.from(entries["policy.signed"]!, "base64")) as Tag;
    const payload = (signed.contents as Uint8Array[])[2]!;
    return createHash("sha256").update(payload).digest();
  }

  /** Seals `plaintext` as device `device` would with counter `counter` (same key schedule, same COSE layout, same binding). */
  function sealLikeTheNode(device: string, counter: number, topic: string, plaintext: Uint8Array): Uint8Array {
    const keys = epochKeysFromRoot(keyring.get(device)!.rootKey, device, 0);
    return sealEncrypt0(new CborWriter(4096), plaintext, keys, encodeKid(device, 0), counter, messageAad(topic, policyHashFromFlash(device))).slice();
  }

  function readSummaryPlaintext(message: Captured): Uint8Array {
    const device = message.topic.split("/")[2]!;
    const keys = epochKeysFromRoot(keyring.get(device)!.rootKey, device, 0);
    return openEncrypt0(parseEncrypt0(message.payload), keys, messageAad(message.topic, policyHashFromFlash(device)));
  }

  /** The plaintext of `message` with its window moved `seconds` later (its records' base time). */
  function laterSummaryPlaintext(message: Captured, seconds: number): Uint8Array {
    const device = message.topic.split("/")[2]!;
    const records = readSenmlPack(readSummaryPlaintext(message));
    const baseTime = records[0]!.time + seconds;
    const writer = new CborWriter(4096);
    const out = records
      .filter((record) => record.name !== `${device}/pad`)
      .map((record) => ({ name: record.name.slice(device.length + 1), unit: record.unit, value: record.value, status: record.stringValue }));
    writeSenmlPack(writer, `${device}/`, baseTime, out);
    return writer.written().slice();
  }

  it("keeps the device root keys out of the traffic", () => {
    for (const device of DEVICES) {
      const key = Buffer.from(keyring.get(device)!.rootKey);
      for (const message of captured) expect(Buffer.from(message.payload).includes(key.subarray(0, 8))).toBe(false);
    }
  });
});

function cborBytesHead(length: number): Buffer {
  if (length < 24) return Buffer.from([0x40 | length]);
  if (length < 256) return Buffer.from([0x58, length]);
  return Buffer.from([0x59, length >> 8, length & 0xff]);
}

