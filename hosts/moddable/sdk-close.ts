/**
 * Closes an SDK object whose typing leaves out the `close()` its implementation has: the ECMA-419
 * I2C and Analog classes (ECMA-419 requires close() of every IO class) and SNTP. A Moddable build
 * type-checks against the SDK's typings, so the call cannot be written directly.
 */
export function closeUntyped(target: object): void {
  (target as { close(): void }).close();
}
