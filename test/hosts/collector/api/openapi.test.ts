/**
 * /api/openapi.json is a valid OpenAPI 3.1 document (checked by @readme/openapi-parser against the
 * specification's schema and its rules: unique operation ids, path parameters declared, ...), it
 * names every route the server serves, and every operation it names is served, with the access it
 * says: a staff operation refuses a request without the token, a public one answers it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validate, compileErrors } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ID_PATTERN } from "../../../../hosts/collector/api/api-schemas.js";
import type { CollectorDb } from "../../../../hosts/collector/db/collector-db.js";
import { openCollectorDb } from "../../../../hosts/collector/db/open-collector-db.js";
import { isValidId } from "../../../../src/uplink/topics.js";
import { startTestApi, Street } from "./api-fixture.js";

interface Operation {
  readonly operationId: string;
  readonly security: unknown[];
  readonly parameters: Array<{ name: string; in: string; required: boolean; schema: { default?: unknown } }>;
  readonly responses: Record<string, unknown>;
}

describe("the API's OpenAPI document", () => {
  let dir: string;
  let db: CollectorDb;
  let server: Awaited<ReturnType<typeof startTestApi>>;
  let document: { openapi: string; paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "civicnode-openapi-"));
    db = await openCollectorDb({ location: join(dir, "collector.db") });
    const street = new Street(db, [{ device: "lamp-1", zone: "old-town" }], Date.now);
    await street.sync();
    server = await startTestApi({ db, keyring: street.keyring, stateDir: dir });
    document = (await (await server.get("/api/openapi.json", { token: null })).json()) as typeof document;
  });

  afterAll(async () => {
    await server?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is valid OpenAPI 3.1", async () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it("names every route the server serves, and nothing it does not", () => {
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{([a-z]+)\}/g, ":$1")}`));
    expect(new Set(documented)).toEqual(new Set(server.api.routes));
    expect(server.api.routes.length).toBeGreaterThanOrEqual(9);
  });

  it("has every operation served with the access it documents, and a 400 and a 401 where it says", async () => {
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const operation of Object.values(methods)) {
        const url = path.replace("{device}", "lamp-1").replace("{zone}", "old-town");
        const staff = operation.security.length > 0;
        const anonymous = await server.get(url, { token: null });
        if (staff) {
          expect(anonymous.status, `${operation.operationId} without a token`).toBe(401);
          expect(operation.responses).toHaveProperty("401");
        } else {
          expect(operation.responses).not.toHaveProperty("401");
        }
        const asStaff = await server.get(url);
        // The disclosure route is served, but this store holds no disclosure: its 404 is documented.
        expect([200, 404], operation.operationId).toContain(asStaff.status);
        if (asStaff.status === 404) expect(operation.responses).toHaveProperty("404");
        const withUnknown = await server.get(`${url}?unknown-parameter=1`);
        expect(withUnknown.status, operation.operationId).toBe(400);
        expect(operation.responses).toHaveProperty("400");
      }
    }
  });

  it("documents the parameters the server validates, with their defaults", () => {
    const summaries = document.paths["/api/nodes/{device}/summaries"]!.get!;
    expect(summaries.parameters.map((p) => `${p.in} ${p.name}${p.required ? " required" : ""}`)).toEqual([
      "path device required",
      "query from",
      "query to",
      "query channel",
      "query limit",
      "query cursor",
      "query format",
    ]);
    expect(summaries.parameters.find((p) => p.name === "limit")!.schema.default).toBe(100);
    const ok = summaries.responses["200"] as { content: Record<string, unknown> };
    expect(Object.keys(ok.content)).toEqual(["application/json", "text/csv"]);
  });

  it("describes device and zone ids exactly as the topics do", () => {
    const pattern = new RegExp(ID_PATTERN);
    for (const id of ["lamp-1", "a", "0", "x".repeat(32), "x".repeat(33), "-lamp", "Lamp", "lamp_1", "lamp.1", "", "lamp-", "a b"]) {
      expect(pattern.test(id), id).toBe(isValidId(id));
    }
  });
});
