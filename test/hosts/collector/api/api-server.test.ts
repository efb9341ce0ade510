/**
 * The collector's HTTP API over real HTTP and the real SQLite store, filled with genuine sealed
 * messages opened by the collector's opener: every endpoint, pages followed through their cursors
 * to the end, CSV, the token where it is needed and not where it is not, every bad parameter
 * answered with a 400 that names it, 404s, and no stack trace anywhere.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { counterReuseAlert, storeFailedAlert } from "../../../../hosts/collector/alerts.js";
import type { DisclosureSource } from "../../../../hosts/collector/api/api-route.js";
import type { CollectorDb } from "../../../../hosts/collector/db/collector-db.js";
import { CollectorDbError } from "../../../../hosts/collector/db/db-errors.js";
import { openCollectorDb } from "../../../../hosts/collector/db/open-collector-db.js";
import { healthRecords, SealingNode, startTestApi, Street, streetRecords, T0_S, WINDOW_S } from "./api-fixture.js";

const NODES = [
  { device: "lamp-1", zone: "old-town", windows: 12 }, // newest window closed 30 s ago: reporting
  { device: "lamp-2", zone: "old-town", windows: 8 }, // 4 windows ago: late
  { device: "lamp-3", zone: "harbour", windows: 2 }, // 10 windows ago: silent
  { device: "lamp-4", zone: "harbour", windows: 0 }, // provisioned, never heard: silent
  { device: "odd-1", zone: "lab", windows: 0 }, // one summary with awkward text, for CSV
];
const NOW_MS = (T0_S + 12 * WINDOW_S + 30) * 1000;
const DISCLOSURE = JSON.stringify({
  format: "civicnode-disclosure",
  version: 2,
  device: "lamp-1",
  zone: "old-town",
  purposes: ["air, noise and footfall"],
  location: { latitude: 0.0004492, longitude: 0.0013475, precisionMeters: 100 },
  retention: { summariesDays: 30, healthDays: 30 },
});

type Json = Record<string, unknown> & { cursor?: string | null };

describe("the collector's HTTP API", () => {
  let dir: string;
  let db: CollectorDb;
  let server: Awaited<ReturnType<typeof startTestApi>>;
  const disclosures: DisclosureSource = {
    disclosure: async (device) => (device === "lamp-1" ? { document: new TextEncoder().encode(DISCLOSURE), receivedAtMs: NOW_MS, verified: true } : undefined),
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "civicnode-api-db-"));
    db = await openCollectorDb({ location: join(dir, "collector.db") });
    const street = new Street(db, NODES, () => NOW_MS);
    await street.sync();
    for (const { device, zone, windows } of NODES) {
      const node = new SealingNode(device, zone);
      for (let w = 0; w < windows; w++) {
        const start = T0_S + w * WINDOW_S;
        await street.admit(node.summary(start, streetRecords(w)), (start + WINDOW_S + 2) * 1000);
        await street.admit(node.health(start + WINDOW_S, healthRecords((w + 1) * WINDOW_S)), (start + WINDOW_S + 3) * 1000);
      }
      if (device === "odd-1") {
        // Text a node chooses and the opener takes (SenML names start with the device id, but a
        // channel may start with -; units and statuses are any text): each a formula to a spreadsheet.
        const records = [
          { name: "-cmd/mean", unit: '=HYPERLINK("http://x.example"), "raw"', value: 1.5 },
          { name: "people/sum", status: "@SUM(A1:A9)" },
          { name: "wind/mean", unit: "+m/s", value: 2 },
          { name: "noise/leq", unit: "dB", value: -3 },
        ];
        await street.admit(node.summary(T0_S, records), (T0_S + WINDOW_S + 2) * 1000);
      }
    }
    for (let i = 0; i < 5; i++) await db.recordRejection({ timeMs: (T0_S + 100 + i) * 1000, topic: "civicnode/old-town/lamp-1/summary", cause: "authentication", detail: "tag mismatch" });
    await db.recordRejection({ timeMs: (T0_S + 3610) * 1000, topic: "civicnode/old-town/lamp-1/summary", cause: "replay", detail: "replay: counter 3" });
    await db.recordRejection({ timeMs: (T0_S + 3611) * 1000, topic: "civicnode/x/y/summary", cause: "unknown-device", detail: "y" });
    // After the test's now (T0 + 3630 s): outside the default span, which ends now.
    await db.recordRejection({ timeMs: (T0_S + 3700) * 1000, topic: "civicnode/old-town/lamp-1/summary", cause: "authentication", detail: "tag mismatch" });
    await db.recordAlert(counterReuseAlert({ device: "lamp-2", epoch: 0, counter: 3 }, "another tag", new Date((T0_S + 500) * 1000)));
    await db.recordAlert(storeFailedAlert("collector.db", "disk-full", 1000, new Date((T0_S + 600) * 1000)));
    await db.recordAlert(counterReuseAlert({ device: "lamp-3", epoch: 1, counter: 9 }, "another tag", new Date((T0_S + 700) * 1000)));
    await db.recordCommand({ device: "lamp-1", name: "set-window", args: { seconds: 900 }, counter: 0, sentAtMs: (T0_S + 60) * 1000 });
    await db.recordCommand({ device: "lamp-2", name: "rotate-epoch", args: {}, counter: 0, sentAtMs: (T0_S + 61) * 1000 });
    await db.recordCommand({ device: "lamp-1", name: "republish-disclosure", args: {}, counter: 1, sentAtMs: (T0_S + 62) * 1000 });
    await db.recordCommandOutcome("lamp-1", 0, "accepted", (T0_S + 400) * 1000);
    server = await startTestApi({ db, keyring: street.keyring, disclosures, now: () => NOW_MS });
  });

  afterAll(async () => {
    await server?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every page of a list, following `cursor` (and checking the Link header says the same) to the end. */
  async function allPages(path: string, key: string, options: { token?: string | null } = {}): Promise<{ items: Json[]; pages: number }> {
    const items: Json[] = [];
    let next: string | undefined = path;
    let pages = 0;
    while (next !== undefined) {
      const response = await server.get(next, options);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Json;
      items.push(...(body[key] as Json[]));
      pages++;
      const link = response.headers.get("link");
      if (body.cursor === null) {
        expect(link).toBeNull();
        next = undefined;
      } else {
        expect(typeof body.cursor).toBe("string");
        const url: URL = new URL(next, "http://x");
        url.searchParams.set("cursor", body.cursor!);
        next = `${url.pathname}${url.search}`;
        expect(link).toBe(`<${next}>; rel="next"`);
      }
      expect(pages).toBeLessThan(100);
    }
    return { items, pages };
  }

  describe("public endpoints", () => {
    it("lists the nodes with zone, newest window and status, to anyone, without health", async () => {
      const response = await server.get("/api/nodes", { token: null });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      const body = (await response.json()) as { nodes: Json[]; cursor: null };
      expect(body.cursor).toBeNull();
      expect(body.nodes).toEqual([
        { device: "lamp-1", zone: "old-town", lastWindowStart: T0_S + 11 * WINDOW_S, lastWindowStartIso: "2026-10-01T08:55:00Z", windowSeconds: WINDOW_S, status: "reporting", location: { latitude: 0.0004492, longitude: 0.0013475, precisionMeters: 100, verified: true } },
        { device: "lamp-2", zone: "old-town", lastWindowStart: T0_S + 7 * WINDOW_S, lastWindowStartIso: "2026-10-01T08:35:00Z", windowSeconds: WINDOW_S, status: "late", location: null },
        { device: "lamp-3", zone: "harbour", lastWindowStart: T0_S + WINDOW_S, lastWindowStartIso: "2026-10-01T08:05:00Z", windowSeconds: WINDOW_S, status: "silent", location: null },
        { device: "lamp-4", zone: "harbour", lastWindowStart: null, lastWindowStartIso: null, windowSeconds: null, status: "silent", location: null },
        { device: "odd-1", zone: "lab", lastWindowStart: T0_S, lastWindowStartIso: "2026-10-01T08:00:00Z", windowSeconds: WINDOW_S, status: "silent", location: null },
      ]);
    });

    it("pages the node list through its cursors to the end", async () => {
      const { items, pages } = await allPages("/api/nodes?limit=2", "nodes", { token: null });
      expect(pages).toBe(3);
      expect(items.map((n) => n.device)).toEqual(["lamp-1", "lamp-2", "lamp-3", "lamp-4", "odd-1"]);
    });

    it("serves a node's disclosure as it was stored, and 404 for a node without one", async () => {
      const response = await server.get("/api/nodes/lamp-1/disclosure", { token: null });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(await response.text()).toBe(DISCLOSURE);
      const none = await server.get("/api/nodes/lamp-2/disclosure", { token: null });
      expect(none.status).toBe(404);
      expect(await none.json()).toEqual({ error: "not-found", message: "no disclosure of lamp-2 stored yet" });
      expect((await server.get("/api/nodes/lamp-99/disclosure", { token: null })).status).toBe(404);
    });

    it("serves its OpenAPI document to anyone", async () => {
      const response = await server.get("/api/openapi.json", { token: null });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./);
    });
  });

  describe("summaries", () => {
    it("pages a node's summaries oldest first through their cursors, every statistic with its unit and every status as a status", async () => {
      const { items, pages } = await allPages("/api/nodes/lamp-1/summaries?limit=5", "summaries");
      expect(pages).toBe(3);
      expect(items.map((s) => s.windowStart)).toEqual(Array.from({ length: 12 }, (_, w) => T0_S + w * WINDOW_S));
      expect(new Set(items.map((s) => s.counter)).size).toBe(12);
      const first = items[0]!;
      expect(first).toMatchObject({ device: "lamp-1", zone: "old-town", windowStartIso: "2026-10-01T08:00:00Z", windowSeconds: WINDOW_S, epoch: 0, receivedAt: "2026-10-01T08:05:02.000Z" });
      expect(first.statistics).toEqual(
        expect.arrayContaining([
          { channel: "noise", stat: "count", value: 300, unit: null, status: null },
          { channel: "noise", stat: "leq", value: 50, unit: "dB", status: null },
          { channel: "temperature", stat: "mean", value: 12.5, unit: "Cel", status: null },
          { channel: "people", stat: "sum", value: null, unit: null, status: "suppressed" },
          { channel: "devices", stat: "distinct", value: null, unit: null, status: "budget-exhausted" },
          { channel: "pm2_5", stat: "status", value: null, unit: null, status: "missing" },
        ]),
      );
      expect(first.statistics).toHaveLength(6);
      expect((items[1]!.statistics as Json[]).find((s) => s.channel === "people")).toEqual({ channel: "people", stat: "sum", value: 7, unit: null, status: null });
      expect(items.map((s) => (s.statistics as Json[]).find((x) => x.stat === "leq")!.value)).toEqual(Array.from({ length: 12 }, (_, w) => 50 + w));
    });

    it("bounds windows with from (included) and to (excluded), in Unix seconds or RFC 3339 alike, and keeps one channel", async () => {
      const from = T0_S + 2 * WINDOW_S;
      const to = T0_S + 5 * WINDOW_S;
      const unix = (await (await server.get(`/api/nodes/lamp-1/summaries?from=${from}&to=${to}`)).json()) as { summaries: Json[] };
      expect(unix.summaries.map((s) => s.windowStart)).toEqual([from, from + WINDOW_S, from + 2 * WINDOW_S]);
      const iso = (await (await server.get("/api/nodes/lamp-1/summaries?from=2026-10-01T08:10:00Z&to=2026-10-01T10:25:00%2B02:00")).json()) as { summaries: Json[] };
      expect(iso).toEqual(unix);
      const noise = (await (await server.get(`/api/nodes/lamp-1/summaries?channel=noise&from=${from}&to=${to}`)).json()) as { summaries: Json[] };
      expect(noise.summaries).toHaveLength(3);
      for (const summary of noise.summaries) expect(new Set((summary.statistics as Json[]).map((s) => s.channel))).toEqual(new Set(["noise"]));
    });

    it("pages a zone's summaries of all its nodes, window by window", async () => {
      const { items } = await allPages("/api/zones/old-town/summaries?limit=7", "summaries");
      expect(items).toHaveLength(12 + 8);
      const keys = items.map((s) => `${String(s.windowStart)} ${String(s.device)}`);
      expect(keys).toEqual([...keys].sort());
      expect(new Set(items.map((s) => s.device))).toEqual(new Set(["lamp-1", "lamp-2"]));
      const harbour = (await (await server.get("/api/zones/harbour/summaries")).json()) as Json;
      expect((harbour.summaries as Json[]).map((s) => s.device)).toEqual(["lamp-3", "lamp-3"]);
      const csv = await server.get("/api/zones/harbour/summaries", { headers: { accept: "text/csv" } });
      expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
      const rows = parseCsv(await csv.text()).slice(1);
      expect(rows).toHaveLength(2 * 6);
      expect(new Set(rows.map((r) => `${r[0]} ${r[1]} ${r[2]}`))).toEqual(new Set(["lamp-3 harbour 2026-10-01T08:00:00Z", "lamp-3 harbour 2026-10-01T08:05:00Z"]));
    });

    it("answers as CSV for format=csv and for Accept: text/csv, one row per statistic, statuses as statuses, pages by Link", async () => {
      const byFormat = await server.get("/api/nodes/lamp-1/summaries?format=csv&limit=4");
      expect(byFormat.status).toBe(200);
      expect(byFormat.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
      const text = await byFormat.text();
      expect(text.endsWith("\r\n")).toBe(true);
      const rows = parseCsv(text);
      expect(rows[0]).toEqual(["device", "zone", "window_start", "window_start_unix", "window_seconds", "channel", "stat", "value", "unit", "status"]);
      expect(rows).toHaveLength(1 + 4 * 6);
      expect(rows[1]).toEqual(["lamp-1", "old-town", "2026-10-01T08:00:00Z", String(T0_S), "300", "noise", "count", "300", "", ""]);
      expect(rows).toContainEqual(["lamp-1", "old-town", "2026-10-01T08:00:00Z", String(T0_S), "300", "people", "sum", "", "", "suppressed"]);
      expect(rows).toContainEqual(["lamp-1", "old-town", "2026-10-01T08:00:00Z", String(T0_S), "300", "pm2_5", "status", "", "", "missing"]);

      const byAccept = await server.get("/api/nodes/lamp-1/summaries?limit=4", { headers: { accept: "text/csv, application/json;q=0.5" } });
      expect(await byAccept.text()).toBe(text);
      const jsonWins = await server.get("/api/nodes/lamp-1/summaries?limit=4&format=json", { headers: { accept: "text/csv" } });
      expect(jsonWins.headers.get("content-type")).toBe("application/json; charset=utf-8");

      // Follow the Link header to the end: every window once, each page a whole CSV document.
      const windows: string[] = [];
      let next: string | undefined = "/api/nodes/lamp-1/summaries?format=csv&limit=5";
      while (next !== undefined) {
        const page = await server.get(next);
        const pageRows = parseCsv(await page.text());
        expect(pageRows[0]![0]).toBe("device");
        for (const row of pageRows.slice(1)) if (row[6] === "count") windows.push(row[2]!);
        next = /^<([^>]+)>; rel="next"$/.exec(page.headers.get("link") ?? "")?.[1];
      }
      expect(windows).toHaveLength(12);
      expect(new Set(windows).size).toBe(12);
    });

    it("quotes CSV fields as RFC 4180 says and keeps a spreadsheet from running a node's text as a formula", async () => {
      const text = await (await server.get("/api/nodes/odd-1/summaries?format=csv")).text();
      expect(text).toContain(`,'-cmd,mean,1.5,"'=HYPERLINK(""http://x.example""), ""raw""",\r\n`);
      const rows = parseCsv(text);
      const row = (...fields: string[]) => ["odd-1", "lab", "2026-10-01T08:00:00Z", String(T0_S), "300", ...fields];
      expect(rows).toContainEqual(row("'-cmd", "mean", "1.5", `'=HYPERLINK("http://x.example"), "raw"`, ""));
      expect(rows).toContainEqual(row("people", "sum", "", "", "'@SUM(A1:A9)"));
      expect(rows).toContainEqual(row("wind", "mean", "2", "'+m/s", ""));
      // A negative number is a number, not a formula: left as it is.
      expect(rows).toContainEqual(row("noise", "leq", "-3", "dB", ""));
      // JSON carries the node's text unchanged: escaping is CSV's business.
      const json = (await (await server.get("/api/nodes/odd-1/summaries")).json()) as { summaries: Array<{ statistics: Json[] }> };
      expect(json.summaries[0]!.statistics).toContainEqual({ channel: "-cmd", stat: "mean", value: 1.5, unit: '=HYPERLINK("http://x.example"), "raw"', status: null });
    });
  });

  describe("staff endpoints", () => {
    it("pages a node's health reports", async () => {
      const { items, pages } = await allPages("/api/nodes/lamp-2/health?limit=3", "reports");
      expect(pages).toBe(3);
      expect(items.map((r) => r.time)).toEqual(Array.from({ length: 8 }, (_, w) => T0_S + (w + 1) * WINDOW_S));
      expect(items[0]).toMatchObject({
        timeIso: "2026-10-01T08:05:00Z",
        epoch: 0,
        receivedAt: "2026-10-01T08:05:03.000Z",
        node: { uptime: 300, queue: 0, dropped: 2 },
        budget: { people: 3.5 },
        commands: { accepted: 1 },
        audit: [{ time: T0_S + WINDOW_S - 10, entry: "boot epoch 0" }],
        sensors: { sht4x: { status: "ok", readings: 99, drops: { checksum: 1 } } },
      });
      const bounded = (await (await server.get(`/api/nodes/lamp-2/health?from=${T0_S + 2 * WINDOW_S}&to=${T0_S + 4 * WINDOW_S}`)).json()) as { reports: Json[] };
      expect(bounded.reports.map((r) => r.time)).toEqual([T0_S + 2 * WINDOW_S, T0_S + 3 * WINDOW_S]);
      const none = (await (await server.get("/api/nodes/lamp-4/health")).json()) as Json;
      expect(none).toEqual({ reports: [], cursor: null });
    });

    it("counts rejections by cause in buckets", async () => {
      const response = await server.get(`/api/rejections?from=${T0_S}&to=${T0_S + 7200}&bucket=3600`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        from: T0_S,
        to: T0_S + 7200,
        bucketSeconds: 3600,
        buckets: [
          { start: T0_S, startIso: "2026-10-01T08:00:00Z", counts: { authentication: 5 } },
          { start: T0_S + 3600, startIso: "2026-10-01T09:00:00Z", counts: { authentication: 1, replay: 1, "unknown-device": 1 } },
        ],
      });
      // By default the day before now, in hours.
      const byDefault = (await (await server.get("/api/rejections")).json()) as Json;
      expect(byDefault).toMatchObject({ to: NOW_MS / 1000, from: NOW_MS / 1000 - 86_400, bucketSeconds: 3600 });
      expect((byDefault.buckets as Json[]).map((b) => b.counts)).toEqual([{ authentication: 5 }, { replay: 1, "unknown-device": 1 }]);
    });

    it("pages the alerts, oldest first", async () => {
      const { items } = await allPages("/api/alerts?limit=2", "alerts");
      expect(items.map((a) => [a.kind, a.device])).toEqual([
        ["counter-reuse", "lamp-2"],
        ["store-failed", undefined],
        ["counter-reuse", "lamp-3"],
      ]);
      expect(items[0]).toMatchObject({ time: new Date((T0_S + 500) * 1000).toISOString(), epoch: 0 });
      expect(items[0]!.action).toContain("npm run provision -- lamp-2 --new-key");
    });

    it("pages the commands sent with their outcome, for all devices or one", async () => {
      const { items } = await allPages("/api/commands?limit=2", "commands");
      expect(items).toEqual([
        { device: "lamp-1", name: "set-window", args: { seconds: 900 }, counter: 0, sentAt: "2026-10-01T08:01:00.000Z", outcome: "accepted" },
        { device: "lamp-2", name: "rotate-epoch", args: {}, counter: 0, sentAt: "2026-10-01T08:01:01.000Z", outcome: null },
        { device: "lamp-1", name: "republish-disclosure", args: {}, counter: 1, sentAt: "2026-10-01T08:01:02.000Z", outcome: null },
      ]);
      const one = await allPages("/api/commands?device=lamp-1&limit=1", "commands");
      expect(one.items.map((c) => c.name)).toEqual(["set-window", "republish-disclosure"]);
    });

    it("tells the client never to cache staff data", async () => {
      for (const path of ["/api/nodes/lamp-1/summaries", "/api/nodes/lamp-1/health", "/api/rejections", "/api/alerts", "/api/commands"]) {
        const response = await server.get(path);
        expect(response.status, path).toBe(200);
        expect(response.headers.get("cache-control"), path).toBe("no-store");
      }
    });
  });

  describe("the token", () => {
    const STAFF = ["/api/nodes/lamp-1/summaries", "/api/zones/old-town/summaries", "/api/nodes/lamp-1/health", "/api/rejections", "/api/alerts", "/api/commands"];
    const PUBLIC = ["/api/nodes", "/api/nodes/lamp-1/disclosure", "/api/openapi.json"];

    it("is required by every staff endpoint: none, a wrong one, another scheme all get 401 and nothing else", async () => {
      const wrongSameLength = server.token.replace(/^./, (c) => (c === "A" ? "B" : "A"));
      const attempts: Array<{ token?: string | null; headers?: Record<string, string> }> = [
        { token: null },
        { token: wrongSameLength },
        { token: `${server.token}x` },
        { token: "" },
        { token: null, headers: { authorization: `Basic ${Buffer.from(`staff:${server.token}`).toString("base64")}` } },
        { token: null, headers: { authorization: server.token } },
      ];
      for (const path of STAFF) {
        for (const attempt of attempts) {
          const response = await server.get(`${path}?limit=bad`, attempt); // the token is checked before the parameters
          expect(response.status, `${path} ${JSON.stringify(attempt.headers ?? attempt.token)}`).toBe(401);
          expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="civicnode"/);
          expect(response.headers.get("cache-control")).toBe("no-store");
          const body = (await response.json()) as Json;
          expect(body.error).toBe("unauthorized");
          expect(JSON.stringify(body)).not.toContain(server.token);
          expect(body.message).toContain("api-token");
          expect(JSON.stringify(body)).not.toContain(server.stateDir); // where the token lives on the server is not told to anyone
        }
        expect((await server.get(path)).status, path).toBe(200);
        expect((await server.get(path, { token: null, headers: { authorization: `bearer  ${server.token}` } })).status, path).toBe(200);
      }
    });

    it("is not asked for by the public endpoints", async () => {
      for (const path of PUBLIC) {
        expect((await server.get(path, { token: null })).status, path).toBe(200);
        expect((await server.get(path, { token: "not-the-token" })).status, path).toBe(200);
      }
    });

    it("lives in the state folder with mode 0600, and its value is never logged", async () => {
      expect(server.api.tokenFile).toBe(join(server.stateDir, "api-token"));
      expect(statSync(server.api.tokenFile).mode & 0o777).toBe(0o600);
      expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(server.log.map((l) => l.event)).toEqual(expect.arrayContaining(["api-token-created", "api-listening"]));
      expect(server.log.find((l) => l.event === "api-listening")!.detail).toEqual({ url: server.api.url, tokenFile: server.api.tokenFile });
      expect(JSON.stringify(server.log)).not.toContain(server.token);
    });
  });

  describe("bad requests", () => {
    const BAD: Array<[path: string, parameter: string, location: "query" | "path"]> = [
      ["/api/nodes?limit=0", "limit", "query"],
      ["/api/nodes?limit=1001", "limit", "query"],
      ["/api/nodes?limit=ten", "limit", "query"],
      ["/api/nodes?limit=2.5", "limit", "query"],
      ["/api/nodes?limit=1&limit=2", "limit", "query"],
      ["/api/nodes?cursor=***", "cursor", "query"],
      ["/api/nodes?sort=zone", "sort", "query"],
      ["/api/nodes/LAMP-1/disclosure", "device", "path"],
      ["/api/nodes/lamp-1/summaries?from=yesterday", "from", "query"],
      ["/api/nodes/lamp-1/summaries?from=2026-10-01", "from", "query"],
      ["/api/nodes/lamp-1/summaries?from=2026-10-01T08:00:00", "from", "query"],
      ["/api/nodes/lamp-1/summaries?from=2026-02-30T00:00:00Z", "from", "query"],
      ["/api/nodes/lamp-1/summaries?to=2026-10-01T25:00:00Z", "to", "query"],
      [`/api/nodes/lamp-1/summaries?from=${T0_S}&to=${T0_S}`, "to", "query"],
      ["/api/nodes/lamp-1/summaries?channel=Noise!", "channel", "query"],
      ["/api/nodes/lamp-1/summaries?format=xml", "format", "query"],
      ["/api/nodes/lamp-1/summaries?chanel=noise", "chanel", "query"],
      ["/api/nodes/lamp-1/summaries?cursor=bm90LWEtY3Vyc29y", "cursor", "query"],
      ["/api/nodes/-lamp/summaries", "device", "path"],
      ["/api/zones/Old_Town/summaries", "zone", "path"],
      ["/api/nodes/lamp-1/health?limit=-1", "limit", "query"],
      ["/api/nodes/lamp-1/health?to=soon", "to", "query"],
      ["/api/rejections?bucket=1", "bucket", "query"],
      ["/api/rejections?bucket=604801", "bucket", "query"],
      [`/api/rejections?bucket=60&from=${T0_S}&to=${T0_S + 60 * 10_001}`, "bucket", "query"],
      [`/api/rejections?from=${NOW_MS / 1000 + 10}`, "from", "query"],
      ["/api/alerts?limit=", "limit", "query"],
      ["/api/alerts?device=lamp-1", "device", "query"],
      ["/api/commands?device=Lamp 1", "device", "query"],
      ["/api/openapi.json?pretty=1", "pretty", "query"],
    ];

    it("answers every bad parameter with a 400 whose message names it and its rule", async () => {
      for (const [path, parameter, location] of BAD) {
        const response = await server.get(path);
        expect(response.status, path).toBe(400);
        expect(response.headers.get("content-type"), path).toBe("application/json; charset=utf-8");
        expect(response.headers.get("cache-control"), path).toBe("no-store");
        const body = (await response.json()) as Json;
        expect(body, path).toMatchObject({ error: "bad-parameter", parameter, in: location });
        expect(body.message, path).toContain(parameter);
        expect(body.message, path).not.toMatch(/\^\[|must match pattern/); // the rule in words, not a regular expression
      }
    });

    it("refuses a cursor used with other filters than its own", async () => {
      const first = (await (await server.get("/api/nodes/lamp-1/summaries?limit=2&channel=noise")).json()) as Json;
      const cursor = first.cursor!;
      expect((await server.get(`/api/nodes/lamp-1/summaries?limit=3&channel=noise&cursor=${cursor}`)).status).toBe(200); // limit may change
      for (const other of ["/api/nodes/lamp-1/summaries?limit=2", "/api/nodes/lamp-2/summaries?limit=2&channel=noise", "/api/zones/old-town/summaries?channel=noise", "/api/nodes/lamp-1/health"]) {
        const response = await server.get(`${other}${other.includes("?") ? "&" : "?"}cursor=${cursor}`);
        expect(response.status, other).toBe(400);
        expect(((await response.json()) as Json).message, other).toMatch(/^cursor belongs to another query/);
      }
    });

    it("answers 404 for an unknown device, zone or endpoint, as JSON", async () => {
      for (const path of ["/api/nodes/lamp-99/summaries", "/api/nodes/lamp-99/health", "/api/nodes/lamp-99/disclosure", "/api/commands?device=lamp-99"]) {
        const response = await server.get(path);
        expect(response.status, path).toBe(404);
        expect(await response.json(), path).toEqual({ error: "not-found", message: "no device lamp-99" });
      }
      const zone = await server.get("/api/zones/nowhere/summaries");
      expect(zone.status).toBe(404);
      expect(await zone.json()).toEqual({ error: "not-found", message: "no zone nowhere" });
      for (const path of ["/api/", "/api/nodes/", "/api/node", "/api/nodes/lamp-1", "/api/nodes/lamp-1/summaries/extra", "/"]) {
        const response = await server.get(path);
        expect(response.status, path).toBe(404);
        expect(((await response.json()) as Json).error, path).toBe("not-found");
        expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      }
      const post = await fetch(`${server.api.url}/api/nodes`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      expect(post.status).toBe(404);
      // A body no parser would take is not read as one: the answer is still the route's.
      for (const [method, body, type] of [["DELETE", "", "application/json"], ["PUT", "{", "application/json"], ["POST", "a=1", "application/x-www-form-urlencoded"]] as const) {
        const response = await fetch(`${server.api.url}/api/nodes`, { method, body, headers: { "content-type": type } });
        expect(response.status, method).toBe(404);
        expect(((await response.json()) as Json).error, method).toBe("not-found");
      }
      const large = await fetch(`${server.api.url}/api/nodes`, { method: "POST", body: "x".repeat(4096), headers: { "content-type": "text/plain" } });
      expect(large.status).toBe(413);
      expect(await large.json()).toEqual({ error: "bad-request", message: "the request was refused (HTTP 413)" });
    });

    it("sets nosniff and a Content-Security-Policy that allows nothing on every answer", async () => {
      for (const path of ["/api/nodes", "/api/openapi.json", "/api/nodes/lamp-1/disclosure", "/api/nodes/lamp-1/summaries?format=csv", "/api/alerts?limit=0", "/nothing"]) {
        const response = await server.get(path);
        expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
        expect(response.headers.get("content-security-policy"), path).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        expect(response.headers.get("referrer-policy"), path).toBe("no-referrer");
      }
    });
  });

  describe("defects", () => {
    it("answers a defect with a 500 and a request id, never its stack or text, and logs it under that id", async () => {
      const broken = brokenDb(db, () => new TypeError("cannot read rows of /var/lib/civicnode/secret.db at offset 42"));
      const other = await startTestApi({ db: broken, now: () => NOW_MS });
      try {
        for (const path of ["/api/nodes", "/api/nodes/lamp-1/summaries", "/api/rejections", "/api/alerts"]) {
          const response = await other.get(path);
          expect(response.status, path).toBe(500);
          expect(response.headers.get("cache-control")).toBe("no-store");
          const text = await response.text();
          expect(text).not.toMatch(/secret|TypeError|offset|\bat \S+ \(|\.ts:\d+/);
          const body = JSON.parse(text) as Json;
          expect(body).toEqual({ error: "internal", message: `an internal error: it is logged under request id ${String(body.requestId)}`, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
          const logged = other.log.find((l) => l.event === "api-defect" && l.detail?.requestId === body.requestId);
          expect(logged?.level).toBe("error");
          expect(logged?.detail?.error).toContain("secret.db");
        }
      } finally {
        await other.close();
      }
    });

    it("answers 503 with Retry-After while the database cannot be reached", async () => {
      const away = brokenDb(db, () => new CollectorDbError("unavailable", "connection refused", "ECONNREFUSED"));
      const other = await startTestApi({ db: away, now: () => NOW_MS });
      try {
        const response = await other.get("/api/nodes/lamp-1/summaries");
        expect(response.status).toBe(503);
        expect(response.headers.get("retry-after")).toBe("5");
        expect(((await response.json()) as Json).error).toBe("unavailable");
      } finally {
        await other.close();
      }
    });
  });
});

/** The database, with every read failing as `failure` says (listDevices included). */
function brokenDb(db: CollectorDb, failure: () => Error): CollectorDb {
  const reads = new Set(["listDevices", "summaries", "health", "rejections", "alerts", "commands"]);
  return new Proxy(db, {
    get(target, property, receiver) {
      if (typeof property === "string" && reads.has(property)) return async () => Promise.reject(failure());
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/** RFC 4180 CSV: fields separated by commas, records by CRLF, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) throw new Error("CSV does not end with CRLF");
  return rows;
}
