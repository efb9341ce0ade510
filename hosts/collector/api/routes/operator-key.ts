/**
 * GET /api/operator: the operator's Ed25519 public key (public), with which anyone verifies a
 * node's disclosure, a COSE_Sign1 (tag 18, EdDSA), with any COSE library. The same key is in the
 * state folder in the clear (`operator.pub`); a city also publishes it where residents can compare.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { ApiContext, ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { operatorKeyId } from "../../operator-key.js";

export function operatorKeyRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/operator",
    operationId: "getOperatorKey",
    summary: "The operator's public key, which signs every node's policy and disclosure",
    description:
      "The Ed25519 public key (32 bytes, hex, and as a COSE_Key) that verifies every node's disclosure (GET /api/nodes/{device}/disclosure, " +
      "and the retained message on civicnode/<zone>/<device>/disclosure). kid: the first 8 bytes of its SHA-256, as the signatures name it. " +
      "404 when the collector was started without one.",
    tag: "nodes",
    access: "public",
    ok: {
      description: "the operator's public key",
      schema: {
        type: "object",
        required: ["algorithm", "curve", "publicKey", "kid"],
        properties: {
          algorithm: { type: "string", enum: ["EdDSA"] },
          curve: { type: "string", enum: ["Ed25519"] },
          publicKey: { type: "string", pattern: "^[0-9a-f]{64}$" },
          kid: { type: "string", pattern: "^[0-9a-f]{16}$" },
          coseKey: { type: "string", description: "COSE_Key (RFC 9052 section 7, RFC 9053 section 7.2: kty OKP, crv Ed25519, x), CBOR in hex" },
        },
        additionalProperties: false,
      },
    },
    notFound: "the collector has no operator key",
    async handle() {
      const key = context.operatorKey;
      if (key === undefined) throw ApiError.notFound("the collector was started without the operator's public key (operator.pub)");
      const kid = operatorKeyId(key);
      // {1: 1 (kty OKP), -1: 6 (crv Ed25519), -2: x, 2: kid}
      const coseKey = Uint8Array.of(0xa4, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20, ...key, 0x02, 0x48, ...kid);
      return { kind: "json", body: { algorithm: "EdDSA", curve: "Ed25519", publicKey: bytesToHex(key), kid: bytesToHex(kid), coseKey: bytesToHex(coseKey) } };
    },
  };
}
