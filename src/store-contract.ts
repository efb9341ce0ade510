/**
 * The limits every host's key-value store enforces (src/platform.ts), checked the same way on every
 * host, so that a write the ESP32's NVS would refuse fails in the simulator and in tests too.
 */
import { STORE_KEY_MAX_LENGTH, STORE_VALUE_MAX_BYTES, type StoreWrite } from "./platform.js";

const KEY_PATTERN = /^[a-z0-9._-]+$/;

export class StoreLimitError extends Error {
  override name = "StoreLimitError";
}

/** Throws StoreLimitError when a write breaks the platform's store contract. */
export function assertStoreWrite(write: StoreWrite): void {
  if (write.key.length === 0 || write.key.length > STORE_KEY_MAX_LENGTH || !KEY_PATTERN.test(write.key)) {
    throw new StoreLimitError(`store key ${JSON.stringify(write.key)} must be 1-${STORE_KEY_MAX_LENGTH} characters of [a-z0-9._-]`);
  }
  if (write.value !== undefined && write.value.length > STORE_VALUE_MAX_BYTES) {
    throw new StoreLimitError(`store value for ${write.key} exceeds ${STORE_VALUE_MAX_BYTES} bytes`);
  }
}

/**
 * A short cause for a failed store operation, for logs and health: the system error code when
 * there is one (ENOSPC, EROFS, EIO from a file; also when it crossed a bridge as text), else the
 * error's name ("StoreLimitError", "PreferenceCommitError").
 */
export function storeFailureCause(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z0-9]{1,15}$/.test(code)) return code;
  const message = error instanceof Error ? error.message : String(error);
  const found = /\b(E[A-Z0-9]{2,15})\b/.exec(message);
  if (found) return found[1]!;
  return error instanceof Error ? error.name : "Error";
}
