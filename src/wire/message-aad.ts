/**
 * The external AAD (RFC 9052 section 5.3) a node's sealed messages are bound to: the MQTT topic,
 * so a message re-published under another topic fails authentication, and, for a node running on
 * a signed policy, the policy's SHA-256 after it (src/policy/signed-policy.ts), so a summary cannot
 * be attributed to another policy than the one it was produced under:
 *
 *   external_aad = UTF-8(topic) || SHA-256(signed policy payload)      (32 bytes; none without a policy)
 *
 * The topic's length is not encoded: MQTT topics cannot contain U+0000 and the hash has a fixed
 * length at the end, so no two (topic, hash) pairs give the same bytes. Nothing of it is sent: the
 * receiver must know the policy (the operator's record of the policies it signed).
 */
import { utf8Encode } from "./utf8.js";

export const POLICY_HASH_BYTES = 32;

export function messageAad(topic: string, policyHash: Uint8Array | undefined): Uint8Array {
  const topicBytes = utf8Encode(topic);
  if (policyHash === undefined) return topicBytes;
  if (policyHash.length !== POLICY_HASH_BYTES) throw new RangeError(`a policy hash has ${POLICY_HASH_BYTES} bytes, not ${policyHash.length}`);
  const aad = new Uint8Array(topicBytes.length + POLICY_HASH_BYTES);
  aad.set(topicBytes, 0);
  aad.set(policyHash, topicBytes.length);
  return aad;
}

/** The bytes of a policy hash written in hex (node-config.ts keeps it so). */
export function policyHashBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError("a policy hash is 64 lowercase hex digits");
  const bytes = new Uint8Array(POLICY_HASH_BYTES);
  for (let i = 0; i < POLICY_HASH_BYTES; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
