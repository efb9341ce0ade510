/**
 * A policy update (policy/policy-update-bundle.ts) cut into `policy-chunk` commands, each sealed
 * and replay-protected like every downlink command (downlink-command.ts), each within the 512
 * bytes a node takes. Arguments:
 *
 *   digest: bstr (32)  SHA-256 of the whole update: names it, and checks it once whole
 *   index:  uint       0 .. total - 1
 *   total:  uint       1 .. POLICY_UPDATE_MAX_CHUNKS
 *   data:   bstr       bytes index * 320 ..; every chunk but the last holds exactly 320
 *
 * The node keeps one update in reassembly (policy-update-receiver.ts): chunks may come in any
 * order and twice; a chunk of another update starts over.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { POLICY_UPDATE_MAX_BYTES } from "../policy/policy-update-bundle.js";

export const POLICY_CHUNK_COMMAND = "policy-chunk";
/**
 * Bytes of the update per chunk: a sealed command takes at most 512 bytes, of which the COSE
 * envelope (a 36-byte kid for a 32-character device id, a 5-byte partial IV, the 16-byte tag) and
 * the command's map with these arguments take 150 at most (a test seals the widest).
 */
export const POLICY_CHUNK_BYTES = 320;
export const POLICY_UPDATE_MAX_CHUNKS = Math.ceil(POLICY_UPDATE_MAX_BYTES / POLICY_CHUNK_BYTES);
export const POLICY_DIGEST_BYTES = 32;

export interface PolicyChunk {
  readonly digest: Uint8Array;
  readonly index: number;
  readonly total: number;
  readonly data: Uint8Array;
}

/** The chunks of `update`, in order (the commander seals each as a `policy-chunk` command). */
export function policyChunks(update: Uint8Array): PolicyChunk[] {
  if (update.length === 0 || update.length > POLICY_UPDATE_MAX_BYTES) throw new RangeError(`a policy update of ${update.length} bytes (1 to ${POLICY_UPDATE_MAX_BYTES})`);
  const digest = sha256(update);
  const total = Math.ceil(update.length / POLICY_CHUNK_BYTES);
  return Array.from({ length: total }, (_, index) => ({ digest, index, total, data: update.slice(index * POLICY_CHUNK_BYTES, (index + 1) * POLICY_CHUNK_BYTES) }));
}

/** A chunk's command arguments. */
export function policyChunkArgs(chunk: PolicyChunk): Record<string, number | Uint8Array> {
  return { digest: chunk.digest, index: chunk.index, total: chunk.total, data: chunk.data };
}

/** The chunk that a command's arguments describe, or why they describe none. */
export function readPolicyChunk(args: Readonly<Record<string, number | string | Uint8Array>>): PolicyChunk | string {
  const { digest, index, total, data } = args;
  if (Object.keys(args).length !== 4) return "arguments other than digest, index, total, data";
  if (!(digest instanceof Uint8Array) || digest.length !== POLICY_DIGEST_BYTES) return "digest is not 32 bytes";
  if (typeof total !== "number" || !Number.isInteger(total) || total < 1 || total > POLICY_UPDATE_MAX_CHUNKS) return `total is not 1 to ${POLICY_UPDATE_MAX_CHUNKS}`;
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= total) return "index is not below total";
  if (!(data instanceof Uint8Array)) return "data is not bytes";
  const last = index === total - 1;
  if (last ? data.length < 1 || data.length > POLICY_CHUNK_BYTES : data.length !== POLICY_CHUNK_BYTES) return `chunk ${index} holds ${data.length} bytes`;
  return { digest, index, total, data };
}
