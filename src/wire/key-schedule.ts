/**
 * Uplink key derivation: HKDF-SHA-256 (RFC 5869) from a device's 256-bit root key.
 *
 * The schedule is a chain, so that it can become forward secure: epoch n has a chain key; it derives
 * epoch n's AEAD key and base IV, and the chain key of epoch n+1. A node that keeps only the current
 * chain key cannot derive any earlier epoch's key; the collector, which keeps the root key, can
 * derive any epoch. Every derivation binds the device id and the epoch number in HKDF's info, so
 * keys are never shared between devices or epochs even if a root key were reused by mistake.
 *
 * Exact inputs (also in docs/wire-format.md), with PRK_root = HKDF-Extract(salt = "civicnode/v1", IKM = root_key):
 *   chain_0       = HKDF-Expand(PRK_root, info = L("chain")         || device || u32be(0), 32)
 *   aead_key_n    = HKDF-Expand(PRK = chain_n, info = L("uplink key") || device || u32be(n), 32)
 *   base_iv_n     = HKDF-Expand(PRK = chain_n, info = L("uplink iv")  || device || u32be(n), 12)
 *   chain_{n+1}   = HKDF-Expand(PRK = chain_n, info = L("chain")      || device || u32be(n+1), 32)
 *   downlink key  = HKDF-Expand(PRK_root, info = L("downlink key") || device || u32be(0), 32)
 *   downlink iv   = HKDF-Expand(PRK_root, info = L("downlink iv")  || device || u32be(0), 12)
 *   key id        = HKDF-Expand(PRK_root, info = L("key id")       || device || u32be(0), 8)
 * where L(label) = "civicnode/v1 " || label || 0x00, device is the UTF-8 device id followed by 0x00.
 */
import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8Encode } from "./utf8.js";

export const ROOT_KEY_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const BASE_IV_BYTES = 12;

/** The key material of one uplink epoch. Call `wipe()` when the epoch ends. */
export class EpochKeys {
  constructor(
    readonly epoch: number,
    readonly key: Uint8Array,
    readonly baseIv: Uint8Array,
  ) {}

  wipe(): void {
    this.key.fill(0);
    this.baseIv.fill(0);
  }
}

/** chain_0 from the root key. */
export function initialChainKey(rootKey: Uint8Array, device: string): Uint8Array {
  return fromRoot(rootKey, (prk) => expand(sha256, prk, scheduleInfo("chain", device, 0), 32));
}

/** The downlink key and base IV (commands to the node), which do not ratchet. */
export function downlinkKeysFromRoot(rootKey: Uint8Array, device: string): EpochKeys {
  return fromRoot(
    rootKey,
    (prk) =>
      new EpochKeys(0xffffffff, expand(sha256, prk, scheduleInfo("downlink key", device, 0), AEAD_KEY_BYTES), expand(sha256, prk, scheduleInfo("downlink iv", device, 0), BASE_IV_BYTES)),
  );
}

/** A public 8-byte fingerprint of a device's root key, to tell which key a node holds. */
export function keyIdFromRoot(rootKey: Uint8Array, device: string): Uint8Array {
  return fromRoot(rootKey, (prk) => expand(sha256, prk, scheduleInfo("key id", device, 0), 8));
}

function fromRoot<T>(rootKey: Uint8Array, derive: (prk: Uint8Array) => T): T {
  if (rootKey.length !== ROOT_KEY_BYTES) throw new Error(`root key must be ${ROOT_KEY_BYTES} bytes`);
  const prk = extract(sha256, rootKey, utf8Encode("civicnode/v1"));
  try {
    return derive(prk);
  } finally {
    prk.fill(0);
  }
}

/** Epoch n's AEAD key and base IV from chain_n. */
export function deriveEpochKeys(chainKey: Uint8Array, device: string, epoch: number): EpochKeys {
  return new EpochKeys(
    epoch,
    expand(sha256, chainKey, scheduleInfo("uplink key", device, epoch), AEAD_KEY_BYTES),
    expand(sha256, chainKey, scheduleInfo("uplink iv", device, epoch), BASE_IV_BYTES),
  );
}

/** chain_{n+1} from chain_n. The caller overwrites chain_n afterwards. */
export function nextChainKey(chainKey: Uint8Array, device: string, epoch: number): Uint8Array {
  return expand(sha256, chainKey, scheduleInfo("chain", device, epoch + 1), 32);
}

/** Epoch n's keys straight from the root key, as the collector derives them. */
export function epochKeysFromRoot(rootKey: Uint8Array, device: string, epoch: number): EpochKeys {
  let chain = initialChainKey(rootKey, device);
  for (let n = 0; n < epoch; n++) {
    const next = nextChainKey(chain, device, n);
    chain.fill(0);
    chain = next;
  }
  try {
    return deriveEpochKeys(chain, device, epoch);
  } finally {
    chain.fill(0);
  }
}

/** HKDF info: "civicnode/v1 <label>" 0x00 <device> 0x00 <epoch as 4 bytes big-endian>. */
export function scheduleInfo(label: string, device: string, epoch: number): Uint8Array {
  const labelBytes = utf8Encode(`civicnode/v1 ${label}`);
  const deviceBytes = utf8Encode(device);
  const info = new Uint8Array(labelBytes.length + 1 + deviceBytes.length + 1 + 4);
  info.set(labelBytes, 0);
  info.set(deviceBytes, labelBytes.length + 1);
  new DataView(info.buffer).setUint32(info.length - 4, epoch);
  return info;
}
