/**
 * A policy update as the city sends it to a node (update-policy, docs/wire-format.md): the new
 * signed policy (signed-policy.ts, serial one more than the node's), the disclosure the operator
 * signed for it (signed-disclosure.ts), and, when the change weakens privacy (policy-change.ts),
 * the oversight key's countersignature of the same policy payload, a COSE_Sign1 whose payload is
 * detached (cose-sign1-detached.ts). CBOR:
 *
 *   [1, signed policy: bstr, signed disclosure: bstr, countersignature: bstr / nil]
 *
 * It is several kilobytes, and a command at most 512 bytes: it travels in chunks
 * (uplink/policy-chunks.ts) and is whole again only on the node.
 */
import { CborDecodeError, decodeCbor } from "../wire/cbor-reader.js";
import { CborWriter } from "../wire/cbor-writer.js";

const VERSION = 1;
/** Largest update a node reassembles: a signed policy (at most one 4,000-byte store value), its disclosure (about 4.5 KB), a countersignature. */
export const POLICY_UPDATE_MAX_BYTES = 12 * 1024;

export interface PolicyUpdateBundle {
  readonly signedPolicy: Uint8Array;
  readonly signedDisclosure: Uint8Array;
  /** The oversight key's detached COSE_Sign1 over the signed policy's payload, or undefined. */
  readonly countersignature: Uint8Array | undefined;
}

export class PolicyUpdateFormatError extends Error {
  override name = "PolicyUpdateFormatError";
}

export function encodePolicyUpdate(bundle: PolicyUpdateBundle): Uint8Array {
  const { signedPolicy, signedDisclosure, countersignature } = bundle;
  const writer = new CborWriter(signedPolicy.length + signedDisclosure.length + (countersignature?.length ?? 0) + 16);
  writer.array(4).int(VERSION).bytes(signedPolicy).bytes(signedDisclosure);
  if (countersignature === undefined) writer.null();
  else writer.bytes(countersignature);
  const bytes = writer.written().slice();
  if (bytes.length > POLICY_UPDATE_MAX_BYTES) throw new PolicyUpdateFormatError(`the update is ${bytes.length} bytes; a node takes at most ${POLICY_UPDATE_MAX_BYTES}`);
  return bytes;
}

/** Reads an update; throws PolicyUpdateFormatError for anything else. */
export function decodePolicyUpdate(bytes: Uint8Array): PolicyUpdateBundle {
  let value;
  try {
    value = decodeCbor(bytes, { maxDepth: 2 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new PolicyUpdateFormatError(`not CBOR: ${error.message}`);
    throw error;
  }
  if (!Array.isArray(value) || value.length !== 4 || value[0] !== VERSION) throw new PolicyUpdateFormatError(`not a policy update (version ${VERSION})`);
  const [, signedPolicy, signedDisclosure, countersignature] = value;
  if (!(signedPolicy instanceof Uint8Array) || !(signedDisclosure instanceof Uint8Array) || !(countersignature === null || countersignature instanceof Uint8Array)) {
    throw new PolicyUpdateFormatError("a policy update is [1, bstr, bstr, bstr / nil]");
  }
  return { signedPolicy, signedDisclosure, countersignature: countersignature ?? undefined };
}
