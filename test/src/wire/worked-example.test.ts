/**
 * The worked example of docs/wire-format.md as a test vector, read from the page itself so that
 * the page cannot drift from the code.
 *
 * First an independent decoder, written from the page alone (Node's crypto for HMAC and
 * ChaCha20-Poly1305, cbor2 for CBOR, none of civicnode's code), derives every value and opens the
 * message and the command. Then civicnode's own code must produce the same bytes and accept them.
 */
import { describe, expect, it } from "vitest";
import { createDecipheriv, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { decode as cbor2Decode, encode as cbor2Encode, Tag } from "cbor2";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { sealEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { encodeKid } from "../../../src/wire/kid.js";
import { deriveEpochKeys, downlinkKeysFromRoot, epochKeysFromRoot, initialChainKey, keyIdFromRoot, nextChainKey } from "../../../src/wire/key-schedule.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { decodeCommand, sealCommand } from "../../../src/uplink/downlink-command.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";

const DOC = new URL("../../../docs/wire-format.md", import.meta.url);
const DEVICE = "street-01";
const TOPIC = "civicnode/demo-street/street-01/summary";
const COMMAND_TOPIC = "civicnode/demo-street/street-01/cmd";

/** The `name  hex` lines of the code blocks in the page's worked example (continuations indented). */
function workedExampleValues(): Map<string, Buffer> {
  const page = readFileSync(DOC, "utf8");
  const section = page.slice(page.indexOf("## Worked example"));
  const values = new Map<string, string>();
  let last: string | undefined;
  let inBlock = false;
  for (const line of section.split("\n")) {
    if (line.startsWith("```")) {
      inBlock = !inBlock;
      last = undefined;
      continue;
    }
    if (!inBlock) continue;
    const entry = /^([a-z_0-9]+)\s+([0-9a-f]+)$/.exec(line);
    const continuation = /^\s+([0-9a-f]+)$/.exec(line);
    if (entry) values.set((last = entry[1]!), entry[2]!);
    else if (continuation && last) values.set(last, values.get(last)! + continuation[1]!);
    else last = undefined;
  }
  return new Map([...values].map(([name, hex]) => [name, Buffer.from(hex, "hex")]));
}

// --- the independent decoder, from the page -------------------------------------------------

const hmac = (key: Buffer, data: Buffer) => createHmac("sha256", key).update(data).digest();
const hkdfExtract = (salt: Buffer, ikm: Buffer) => hmac(salt, ikm);
function hkdfExpand(prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = hmac(prk, Buffer.concat([previous, info, Buffer.from([i])]));
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}
function info(label: string, device: string, n: number): Buffer {
  const epoch = Buffer.alloc(4);
  epoch.writeUInt32BE(n);
  return Buffer.concat([Buffer.from(`civicnode/v1 ${label}`), Buffer.from([0]), Buffer.from(device), Buffer.from([0]), epoch]);
}
function nonceOf(baseIv: Buffer, partialIv: Buffer): Buffer {
  const nonce = Buffer.from(baseIv);
  partialIv.forEach((b, i) => (nonce[12 - partialIv.length + i]! ^= b));
  return nonce;
}
function chachaOpen(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  decipher.setAAD(aad, { plaintextLength: sealed.length - 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
}
/** Steps 3-6 of "How a receiver opens a message" for a message whose keys the caller derives. */
function openIndependently(message: Buffer, topic: string, keysFor: (device: string, epoch: number) => { key: Buffer; iv: Buffer }) {
  const tagged = cbor2Decode(message, { preferMap: true }) as Tag;
  expect(tagged).toBeInstanceOf(Tag);
  expect(tagged.tag).toBe(16);
  const [protectedHeader, unprotected, ciphertext] = tagged.contents as [Uint8Array, Map<number, Uint8Array>, Uint8Array];
  expect(Buffer.from(protectedHeader).toString("hex")).toBe("a1011818");
  expect([...unprotected.keys()]).toEqual([4, 6]);
  const kid = Buffer.from(unprotected.get(4)!);
  const partialIv = Buffer.from(unprotected.get(6)!);
  const device = kid.subarray(0, kid.length - 4).toString("utf8");
  const epoch = kid.readUInt32BE(kid.length - 4);
  const { key, iv } = keysFor(device, epoch);
  const aad = Buffer.from(cbor2Encode(["Encrypt0", new Uint8Array(protectedHeader), new Uint8Array(Buffer.from(topic))]));
  const nonce = nonceOf(iv, partialIv);
  return { device, epoch, kid, partialIv, nonce, aad, plaintext: chachaOpen(key, nonce, aad, Buffer.from(ciphertext)) };
}

describe("worked example (docs/wire-format.md)", () => {
  const v = workedExampleValues();
  const get = (name: string): Buffer => {
    const value = v.get(name);
    if (!value) throw new Error(`the worked example has no value "${name}"`);
    return value;
  };

  it("is on the page, complete", () => {
    for (const name of ["root_key", "plaintext", "prk_root", "chain_0", "chain_1", "key_1", "base_iv_1", "nonce", "message", "command_message"]) expect(v.has(name), name).toBe(true);
    expect(get("root_key")).toEqual(Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
  });

  it("derives every key as documented (independent HKDF)", () => {
    const root = get("root_key");
    const prk = hkdfExtract(Buffer.from("civicnode/v1"), root);
    expect(prk.toString("hex")).toBe(get("prk_root").toString("hex"));
    expect(info("chain", DEVICE, 0)).toEqual(get("info_chain_0"));
    expect(info("chain", DEVICE, 1)).toEqual(get("info_chain_1"));
    expect(info("uplink key", DEVICE, 1)).toEqual(get("info_uplink_key_1"));
    expect(info("uplink iv", DEVICE, 1)).toEqual(get("info_uplink_iv_1"));
    const chain0 = hkdfExpand(prk, info("chain", DEVICE, 0), 32);
    expect(chain0).toEqual(get("chain_0"));
    expect(hkdfExpand(chain0, info("uplink key", DEVICE, 0), 32)).toEqual(get("key_0"));
    expect(hkdfExpand(chain0, info("uplink iv", DEVICE, 0), 12)).toEqual(get("base_iv_0"));
    const chain1 = hkdfExpand(chain0, info("chain", DEVICE, 1), 32);
    expect(chain1).toEqual(get("chain_1"));
    expect(hkdfExpand(chain1, info("uplink key", DEVICE, 1), 32)).toEqual(get("key_1"));
    expect(hkdfExpand(chain1, info("uplink iv", DEVICE, 1), 12)).toEqual(get("base_iv_1"));
    expect(hkdfExpand(prk, info("downlink key", DEVICE, 0), 32)).toEqual(get("downlink_key"));
    expect(hkdfExpand(prk, info("downlink iv", DEVICE, 0), 12)).toEqual(get("downlink_iv"));
    expect(hkdfExpand(prk, info("key id", DEVICE, 0), 8)).toEqual(get("key_id"));
  });

  it("opens the message with the documented procedure alone", () => {
    const opened = openIndependently(get("message"), TOPIC, (device, epoch) => {
      expect(device).toBe(DEVICE);
      let chain = hkdfExpand(hkdfExtract(Buffer.from("civicnode/v1"), get("root_key")), info("chain", device, 0), 32);
      for (let n = 0; n < epoch; n++) chain = hkdfExpand(chain, info("chain", device, n + 1), 32);
      return { key: hkdfExpand(chain, info("uplink key", device, epoch), 32), iv: hkdfExpand(chain, info("uplink iv", device, epoch), 12) };
    });
    expect(opened.epoch).toBe(1);
    expect(opened.kid).toEqual(get("kid"));
    expect(opened.partialIv).toEqual(get("partial_iv"));
    expect(opened.partialIv.readUIntBE(0, opened.partialIv.length)).toBe(42);
    expect(opened.nonce).toEqual(get("nonce"));
    expect(opened.aad).toEqual(get("enc_structure"));
    expect(opened.plaintext).toEqual(get("plaintext"));
    expect(get("message").subarray(get("message").length - get("ciphertext_and_tag").length)).toEqual(get("ciphertext_and_tag"));

    const pack = cbor2Decode(opened.plaintext, { preferMap: true }) as Map<number, unknown>[];
    expect(pack.map((record) => Object.fromEntries(record))).toEqual([
      { "-2": "street-01/", "-3": 1784095200, 0: "window", 1: "s", 2: 300 },
      { 0: "temperature/mean", 1: "Cel", 2: 21.5 },
      { 0: "people/sum", 2: 14 },
      { 0: "co2/status", 3: "missing" },
    ]);
  });

  it("opens the downlink command with the documented procedure alone", () => {
    const opened = openIndependently(get("command_message"), COMMAND_TOPIC, (device, epoch) => {
      expect(device).toBe(DEVICE);
      expect(epoch).toBe(0xffffffff);
      return { key: get("downlink_key"), iv: get("downlink_iv") };
    });
    expect(opened.kid).toEqual(get("command_kid"));
    expect(opened.nonce).toEqual(get("command_nonce"));
    expect(opened.plaintext).toEqual(get("command_plaintext"));
    const command = cbor2Decode(opened.plaintext, { preferMap: true }) as Map<number, unknown>;
    expect(command.get(1)).toBe("set-window");
    expect(command.get(2)).toBe(1784095500);
    expect(command.get(3)).toEqual(new Map([["seconds", 600]]));
  });

  it("is what civicnode's own code derives, seals and opens", () => {
    const root = new Uint8Array(get("root_key"));
    const chain0 = initialChainKey(root, DEVICE);
    expect(Buffer.from(chain0)).toEqual(get("chain_0"));
    const chain1 = nextChainKey(chain0, DEVICE, 0);
    expect(Buffer.from(chain1)).toEqual(get("chain_1"));
    const keys = deriveEpochKeys(chain1, DEVICE, 1);
    expect(Buffer.from(keys.key)).toEqual(get("key_1"));
    expect(epochKeysFromRoot(root, DEVICE, 1).baseIv).toEqual(keys.baseIv);
    expect(Buffer.from(keyIdFromRoot(root, DEVICE))).toEqual(get("key_id"));
    const sealed = sealEncrypt0(new CborWriter(512), new Uint8Array(get("plaintext")), keys, encodeKid(DEVICE, 1), 42, utf8Encode(TOPIC));
    expect(Buffer.from(sealed)).toEqual(get("message"));

    const downlink = downlinkKeysFromRoot(root, DEVICE);
    const command = decodeCommand(new Uint8Array(get("command_plaintext")));
    expect(command).toEqual({ name: "set-window", issued: 1784095500, args: { seconds: 600 } });
    expect(Buffer.from(sealCommand(command, DEVICE, COMMAND_TOPIC, downlink, 1))).toEqual(get("command_message"));

    const keyring = new Keyring();
    keyring.add(DEVICE, "demo-street", root);
    const result = new MessageOpener(keyring).open(TOPIC, new Uint8Array(get("message")));
    if (!result.ok) throw new Error(`rejected: ${result.cause}`);
    expect(result.kind).toBe("summary");
    if (result.kind !== "summary") return;
    expect(result.summary.epoch).toBe(1);
    expect(result.summary.counter).toBe(42);
    expect(result.summary.windowStart).toBe(1784095200);
    expect(result.summary.channels.temperature?.mean).toBe(21.5);
    expect(result.summary.channels.co2?.status).toBe("missing");
  });
});
