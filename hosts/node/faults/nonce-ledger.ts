/**
 * Every (key, nonce) pair the street sealed under, as seen where sealed bytes leave a node's RAM:
 * written to its flash (outbox records) or handed to the network. A ChaCha20-Poly1305 nonce is the
 * epoch's base IV XOR the message counter (docs/wire-format.md), so a (device, epoch, counter)
 * triple names one (key, nonce) pair; two different ciphertexts under one triple are a nonce reuse.
 * The same bytes seen twice (a resend, a record sent after a reboot) are not.
 */
import { createHash } from "node:crypto";
import { parseEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { decodeKid } from "../../../src/wire/kid.js";

export interface NonceReuse {
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
}

export class NonceLedger {
  /** "device/epoch/counter" -> digest of the sealed message. */
  readonly #sealed = new Map<string, string>();
  readonly reuses: NonceReuse[] = [];
  /** Bytes that were not a sealed message (the disclosure is plain CBOR): not counted. */
  unsealed = 0;

  /** Records one sealed message. */
  observe(message: Uint8Array): void {
    let envelope;
    try {
      envelope = parseEncrypt0(message);
    } catch {
      this.unsealed++;
      return;
    }
    const kid = decodeKid(envelope.kid);
    if (!kid) {
      this.unsealed++;
      return;
    }
    const key = `${kid.device}/${kid.epoch}/${envelope.counter}`;
    const digest = createHash("sha256").update(message).digest("hex");
    const earlier = this.#sealed.get(key);
    if (earlier === undefined) this.#sealed.set(key, digest);
    else if (earlier !== digest) this.reuses.push({ device: kid.device, epoch: kid.epoch, counter: envelope.counter });
  }

  /** Distinct (key, nonce) pairs seen. */
  get pairs(): number {
    return this.#sealed.size;
  }
}
