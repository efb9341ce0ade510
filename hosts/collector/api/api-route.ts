/**
 * One endpoint of the API, described once: its path, who may call it, its parameters and its
 * response as JSON Schemas, and what it does. The server (api-server.ts) registers it with fastify
 * from this description, and the OpenAPI document (openapi-document.ts) is written from the same
 * one, so the document cannot describe a route otherwise than it runs.
 *
 * A route's `handle` knows nothing of HTTP: it gets the parameters fastify has validated (and
 * coerced, defaults filled in) and returns what to send; it throws ApiError for a 400 or a 404.
 */
import type { DeviceRow, CollectorDb } from "../db/collector-db.js";
import type { Keyring } from "../keyring.js";
import { ApiError } from "./api-errors.js";
import type { JsonSchema, ParameterSchema } from "./api-schemas.js";

/** Public routes answer anyone; staff routes need the bearer token (api-token.ts). */
export type Access = "public" | "staff";

export interface ApiRequest {
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
  /** The Accept header, for the routes that also speak CSV. */
  readonly accept: string | undefined;
}

export type ApiResponse =
  /** JSON shaped by the route's response schema; `next`: the next page's cursor, also sent as a Link header. */
  | { readonly kind: "json"; readonly body: unknown; readonly next?: string | undefined }
  | { readonly kind: "csv"; readonly body: string; readonly next?: string | undefined }
  /** Bytes sent as they are stored (a node's disclosure document). */
  | { readonly kind: "bytes"; readonly body: Uint8Array; readonly type: string; readonly headers?: Readonly<Record<string, string>> };

export interface ApiRoute {
  /** An OpenAPI path template: /api/nodes/{device}/summaries. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: "nodes" | "summaries" | "operations" | "meta";
  readonly access: Access;
  readonly params?: ParameterSchema;
  readonly query?: ParameterSchema;
  readonly ok: {
    readonly description: string;
    /** The JSON body's schema. */
    readonly schema: JsonSchema;
    /** Also offered as CSV (format=csv or Accept: text/csv). */
    readonly csv?: boolean;
    /** Another media type than JSON, for bytes routes. */
    readonly mediaType?: string;
  };
  /**
   * What a 404 of this route means ("no such device"); absent: it answers none. Every route may
   * also answer 400 (an unknown or bad parameter), 401 (staff), 500 and 503.
   */
  readonly notFound?: string;
  handle(request: ApiRequest): Promise<ApiResponse>;
}

/** A node's stored disclosure, as it was published (UTF-8 JSON), where the store keeps them. */
export interface StoredDisclosure {
  /** The disclosure document (JSON), the payload of the COSE_Sign1 the node published. */
  readonly document: Uint8Array;
  /** When it arrived (Unix ms); the same document published again keeps its first time. */
  readonly receivedAtMs: number;
  /** True only when its signature held under the operator's public key. */
  readonly verified: boolean;
  /** The signed policy it names. */
  readonly policy?: { readonly name: string; readonly serial?: number; readonly sha256?: string };
  /** When a disclosure that did not verify was last published in its place (and refused). */
  readonly forgedAtMs?: number;
}

/** Where the API finds a node's disclosure (the database's contract has no place for it yet). */
export interface DisclosureSource {
  disclosure(device: string): Promise<StoredDisclosure | undefined>;
  /** When a disclosure of the device that did not verify was last refused (the verification says "forged" while none verified is kept). */
  forgedAtMs?(device: string): number | undefined;
}

/** What the routes read from. */
export interface ApiContext {
  readonly db: CollectorDb;
  readonly keyring: Keyring | undefined;
  readonly disclosures: DisclosureSource | undefined;
  /** The operator's Ed25519 public key, when the collector has one. */
  readonly operatorKey: Uint8Array | undefined;
  /** The time now (Unix ms): node status. */
  readonly now: () => number;
  /** The collector's policyMismatchGraceMs, for the verification verdict (node-verification.ts); default 15 minutes. */
  readonly policyGraceMs?: number;
}

/** The devices the API knows: the database's, and the keyring's not stored yet. */
export async function knownDevices(context: ApiContext): Promise<Map<string, Pick<DeviceRow, "device" | "zone"> & Partial<DeviceRow>>> {
  const devices = new Map<string, Pick<DeviceRow, "device" | "zone"> & Partial<DeviceRow>>();
  for (const row of await context.db.listDevices()) devices.set(row.device, row);
  for (const device of context.keyring?.devices ?? []) {
    if (!devices.has(device)) devices.set(device, { device, zone: context.keyring!.get(device)!.zone });
  }
  return devices;
}

/** The device, or a 404 that names it. */
export async function knownDevice(context: ApiContext, device: string): Promise<Pick<DeviceRow, "device" | "zone">> {
  const row = (await knownDevices(context)).get(device);
  if (!row) throw ApiError.notFound(`no device ${device}`);
  return row;
}

/** The zone (some known device is in it), or a 404 that names it. */
export async function knownZone(context: ApiContext, zone: string): Promise<void> {
  for (const row of (await knownDevices(context)).values()) if (row.zone === zone) return;
  throw ApiError.notFound(`no zone ${zone}`);
}
