import { describe, expect, it } from "vitest";
import { Pseudonymizer } from "../../../src/privacy/pseudonymizer.js";
import { DistinctDevices } from "../../../src/privacy/distinct-devices.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import type { Random } from "../../../src/platform.js";

/** A seeded CSPRNG stand-in that remembers every byte it handed out (to search for keys later). */
class RecordingRandom implements Random {
  readonly inner = new SeededRandom("pseudonym-test");
  readonly handedOut: Uint8Array[] = [];
  fill(target: Uint8Array): void {
    this.inner.fill(target);
    this.handedOut.push(target.slice());
  }
}

const address = (n: number) => Uint8Array.of(0x4c, 0x10, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0x77);
const pseudonymOf = (p: Pseudonymizer, a: Uint8Array) => {
  const out = new Uint32Array(2);
  p.pseudonym(a, a.length, out);
  return `${out[0]}:${out[1]}`;
};

describe("keyed pseudonyms", () => {
  it("give the same identifier the same pseudonym within an epoch, and different identifiers different ones", () => {
    const p = new Pseudonymizer(new RecordingRandom());
    expect(pseudonymOf(p, address(1))).toBe(pseudonymOf(p, address(1)));
    const seen = new Set(Array.from({ length: 5000 }, (_, i) => pseudonymOf(p, address(i))));
    expect(seen.size).toBe(5000);
  });

  it("are unlinkable across epochs: no pseudonym of one epoch appears in the next", () => {
    const p = new Pseudonymizer(new RecordingRandom());
    const epochOne = new Set(Array.from({ length: 2000 }, (_, i) => pseudonymOf(p, address(i))));
    p.rotate();
    const epochTwo = Array.from({ length: 2000 }, (_, i) => pseudonymOf(p, address(i)));
    expect(epochTwo.filter((x) => epochOne.has(x))).toEqual([]);
  });

  it("are not a plain hash of the address: without the key, hashing every candidate address finds nothing", async () => {
    const { blake2s } = await import("@noble/hashes/blake2.js");
    const p = new Pseudonymizer(new RecordingRandom());
    const target = pseudonymOf(p, address(42));
    for (let i = 0; i < 1000; i++) {
      const plain = blake2s(address(i), { dkLen: 8 });
      const word = (j: number) => ((plain[j]! << 24) | (plain[j + 1]! << 16) | (plain[j + 2]! << 8) | plain[j + 3]!) >>> 0;
      expect(`${word(0)}:${word(4)}`).not.toBe(target);
    }
  });

  it("draw every key from the CSPRNG, a fresh one per epoch", () => {
    const random = new RecordingRandom();
    const p = new Pseudonymizer(random);
    p.rotate();
    p.rotate();
    expect(random.handedOut).toHaveLength(3);
    expect(random.handedOut.every((k) => k.length === 32)).toBe(true);
    expect(new Set(random.handedOut.map((k) => Buffer.from(k).toString("hex"))).size).toBe(3);
  });
});

describe("distinct devices in a window", () => {
  it("counts distinct advertisers, not sightings, and forgets them when the window closes", () => {
    const devices = new DistinctDevices(new RecordingRandom(), 300);
    devices.reset(0);
    for (let repeat = 0; repeat < 5; repeat++) for (let i = 0; i < 40; i++) devices.observe(address(i), "resolvable-private", -60);
    devices.add(0);
    expect(devices.sightings).toBe(200);
    // 40 distinct, 200 sightings: linear counting on 4,096 registers is within a register collision or two
    expect(Math.abs(devices.value("distinct") - 40)).toBeLessThanOrEqual(2);
    devices.reset(300_000);
    devices.add(0);
    expect(devices.value("distinct")).toBe(0); // a real zero: the scanner listened, nobody was there
    devices.reset(600_000);
    expect(devices.value("distinct")).toBeNaN(); // no scanner sample at all: missing, not zero
  });

  it("rotates its key every pseudonym epoch (here three windows)", () => {
    const devices = new DistinctDevices(new RecordingRandom(), 900);
    const epochs = [0, 300_000, 600_000, 900_000, 1_200_000, 1_800_000].map((t) => {
      devices.reset(t);
      return devices.epochs;
    });
    expect(epochs).toEqual([2, 2, 2, 3, 3, 4]);
  });
});
