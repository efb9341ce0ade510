/**
 * A global `TextEncoder` (UTF-8 only) for @noble/curves: its ed25519 module encodes context strings
 * with one while it loads (its FROST and hash-to-curve set-ups), and the Moddable runtime has none
 * (the SDK's text/encoder module is a class to import, with a native encoder, not a global). Without
 * it loading fails: "get TextEncoder: undefined variable". It must be evaluated before @noble/curves,
 * which is not preloaded (docs/decisions.md, Moddable target): the firmware imports it first.
 */
import { utf8Encode } from "../../src/wire/utf8.js";

class Utf8TextEncoder {
  readonly encoding = "utf-8";

  encode(text = ""): Uint8Array {
    return utf8Encode(text);
  }
}

const global = globalThis as { TextEncoder?: unknown };
if (global.TextEncoder === undefined) Object.defineProperty(globalThis, "TextEncoder", { value: Utf8TextEncoder, writable: true, configurable: true });
