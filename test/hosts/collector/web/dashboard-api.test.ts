/**
 * The API the dashboard reads, over real HTTP against a real collector on SQLite fed by real
 * nodes (dashboard-street.ts): the street with each node's state, a node's stored messages with
 * their sealed bytes exactly as they arrived, its audit trail and whether its chain holds, the
 * live event stream, and how a browser logs in (a one-time code or the token, for a session
 * cookie the staff routes admit, never from another site).
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_CODE_MS, SESSION_MS, StaffSessions } from "../../../../hosts/collector/api/staff-sessions.js";
import { LiveEvents } from "../../../../hosts/collector/api/routes/live-events.js";
import { mqttPublishBytes } from "../../../../hosts/collector/api/routes/per-reading-stream.js";
import { DASHBOARD_CSP } from "../../../../hosts/collector/web/dashboard-html.js";
import { dashboardPages } from "../../../../hosts/collector/web/dashboard-pages.js";
import { parseEncrypt0 } from "../../../../src/wire/cose-encrypt0.js";
import { decodeKid } from "../../../../src/wire/kid.js";
import { healthRecords, rootKeyOf as fixtureRootKeyOf, SealingNode, startTestApi } from "../api/api-fixture.js";
import { DashboardStreet, HOUR_MS, START_MS, WINDOW_MS, ZONE } from "./dashboard-street.js";

const DEVICES = ["street-01", "street-02"];
/** A node of the keyring whose messages the test seals itself: a health report naming a faulty sensor. */
const LAB = "lab-01";

interface Json {
  [key: string]: unknown;
}
type Summary = { windowStart: number; epoch: number; counter: number; statistics: Array<{ channel: string; stat: string; value: number | null; status: string | null }> };
type Message = {
  device: string;
  kind: string;
  topic: string;
  epoch: number;
  counter: number;
  bytes: number;
  hex: string;
  mqttPublishBytes: number;
  envelope: { kidDevice: string; kidEpoch: number; counter: number; ciphertextBytes: number; headerBytes: number };
  summary: Summary | null;
  health: Json | null;
  perReadingStream: { messages: number; bytes: number; sensors: Array<{ sensor: string; channels: string[]; readings: number; topic: string; example: string; bytes: number }>; uncounted: string[] } | null;
};

describe("the dashboard's API", () => {
  let street: DashboardStreet;

  beforeAll(async () => {
    // street-02's 4th health report is never received: the entries it carried (a command's) are a gap.
    street = await DashboardStreet.start({ devices: DEVICES, others: [{ device: LAB, rootKey: fixtureRootKeyOf(LAB) }], withhold: (device, kind, n) => device === "street-02" && kind === "health" && n === 3 });
    await street.advance(HOUR_MS * 0.75 + 1000);
    street.command("street-02", "rotate-epoch");
    // Long enough after the report that follows the missing one for the gap to have settled (15 minutes).
    await street.advance(HOUR_MS);
    const lab = new SealingNode(LAB, ZONE);
    const time = START_MS / 1000 + 900;
    await street.deliver(lab.health(time, [...healthRecords(900).filter((r) => r.name !== "sht4x/status"), { name: "sht4x/status", status: "faulty" }]));
  }, 120_000);

  afterAll(async () => {
    await street?.close();
  });

  describe("GET /api/street", () => {
    it("lists every node with its public entry and its state, sensor-faulty where its newest health report says so", async () => {
      const { nodes } = await street.staff<{ nodes: Json[] }>("/api/street?limit=1000");
      expect(nodes.map((n) => n.device)).toEqual([LAB, ...DEVICES]);
      const publicNodes = (await (await fetch(`${street.api.url}/api/nodes`)).json()) as { nodes: Json[] };
      for (const node of nodes) {
        const entry = publicNodes.nodes.find((n) => n.device === node.device)!;
        expect(node).toMatchObject(entry);
      }
      const byDevice = new Map(nodes.map((n) => [n.device, n]));
      expect(byDevice.get("street-01")).toMatchObject({ status: "reporting", state: "reporting", health: { faultySensors: [] } });
      expect((byDevice.get("street-01")!.location as Json).precisionMeters).toBe(100);
      expect(byDevice.get(LAB)).toMatchObject({ status: "silent", state: "silent", health: { faultySensors: ["sht4x"] } });
    });

    it("needs the token", async () => {
      expect((await fetch(`${street.api.url}/api/street`)).status).toBe(401);
    });
  });

  describe("GET /api/nodes/{device}/messages", () => {
    it("gives the message a summary names with its sealed bytes exactly as they arrived, their size on the wire, its envelope and what was decoded", async () => {
      const { summaries } = await street.staff<{ summaries: Summary[] }>("/api/nodes/street-01/summaries?limit=3");
      for (const summary of summaries) {
        const { messages, cursor } = await street.staff<{ messages: Message[]; cursor: string | null }>(`/api/nodes/street-01/messages?epoch=${summary.epoch}&counter=${summary.counter}`);
        expect(messages).toHaveLength(1);
        expect(cursor).toBeNull();
        const [message] = messages as [Message];
        const sent = street.delivered.find((m) => m.device === "street-01" && m.topic.endsWith("/summary") && parseEncrypt0(m.payload).counter === summary.counter)!;
        expect(message.hex).toBe(bytesToHex(sent.payload));
        expect(message.bytes).toBe(sent.payload.length);
        expect(message.mqttPublishBytes).toBe(1 + 2 + 2 + sent.topic.length + 2 + sent.payload.length); // remaining length > 127: two bytes
        const envelope = parseEncrypt0(sent.payload);
        expect(message.envelope).toMatchObject({ kidDevice: "street-01", kidEpoch: decodeKid(envelope.kid)!.epoch, counter: summary.counter, ciphertextBytes: envelope.ciphertext.length });
        expect(message.envelope.headerBytes + message.envelope.ciphertextBytes).toBe(message.bytes);
        expect(message.summary).toEqual(summary);
        expect(message.health).toBeNull();
      }
    });

    it("estimates the window as one message per reading: per sensor its largest count, channels without a count left out", async () => {
      const { summaries } = await street.staff<{ summaries: Summary[] }>("/api/nodes/street-01/summaries?limit=1");
      const summary = summaries[0]!;
      const { messages } = await street.staff<{ messages: Message[] }>(`/api/nodes/street-01/messages?epoch=${summary.epoch}&counter=${summary.counter}`);
      const stream = messages[0]!.perReadingStream!;
      const countOf = (channel: string) => summary.statistics.find((s) => s.channel === channel && s.stat === "count")!.value!;
      // The reference street: temperature and humidity from the SHT4x, the PM channels from the PMS5003 (docs/board.md).
      const sht4x = stream.sensors.find((s) => s.sensor === "SHT4X")!;
      expect(sht4x.channels).toEqual(["temperature", "humidity"]);
      expect(sht4x.readings).toBe(Math.max(countOf("temperature"), countOf("humidity")));
      expect(sht4x.bytes).toBe(sht4x.readings * mqttPublishBytes(sht4x.topic, Buffer.byteLength(sht4x.example), 0));
      expect(sht4x.topic).toBe("tele/street-01/SENSOR");
      expect(JSON.parse(sht4x.example)).toEqual({ Time: new Date(summary.windowStart * 1000).toISOString().slice(0, 19), SHT4X: { Temperature: expect.any(Number), Humidity: expect.any(Number) } });
      expect(stream.sensors.find((s) => s.sensor === "PMS5003")!.readings).toBe(Math.max(countOf("pm1"), countOf("pm2_5"), countOf("pm10")));
      expect(stream.uncounted).toEqual(["people", "vehicles", "occupancy", "devices"]);
      expect(stream.messages).toBe(stream.sensors.reduce((sum, s) => sum + s.readings, 0));
      expect(stream.bytes).toBe(stream.sensors.reduce((sum, s) => sum + s.bytes, 0));
      expect(stream.bytes).toBeGreaterThan(50 * messages[0]!.mqttPublishBytes);
    });

    it("pages every stored message of a node in the order received, health reports with their decoded report", async () => {
      const seen: Message[] = [];
      let cursor: string | null = null;
      do {
        const page: { messages: Message[]; cursor: string | null } = await street.staff(`/api/nodes/street-01/messages?limit=7${cursor === null ? "" : `&cursor=${cursor}`}`);
        expect(page.messages.length).toBeLessThanOrEqual(7);
        seen.push(...page.messages);
        cursor = page.cursor;
      } while (cursor !== null);
      const sent = street.delivered.filter((m) => m.device === "street-01" && !m.topic.endsWith("/disclosure"));
      expect(seen.map((m) => m.hex)).toEqual(sent.map((m) => bytesToHex(m.payload)));
      const health = seen.filter((m) => m.kind === "health");
      expect(health.length).toBeGreaterThanOrEqual(5);
      for (const m of health) expect(m.health).toMatchObject({ epoch: m.epoch, counter: m.counter, sensors: expect.any(Object) });
      const { messages } = await street.staff<{ messages: Message[] }>("/api/nodes/street-01/messages?kind=health&limit=100");
      expect(messages.map((m) => m.counter)).toEqual(health.map((m) => m.counter));
    });

    it("refuses an epoch without its counter, an unknown device, and anyone without the token", async () => {
      const bad = await fetch(`${street.api.url}/api/nodes/street-01/messages?epoch=0`, { headers: { authorization: `Bearer ${street.token}` } });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: "bad-parameter", parameter: "counter", in: "query" });
      const limit = await fetch(`${street.api.url}/api/nodes/street-01/messages?limit=101`, { headers: { authorization: `Bearer ${street.token}` } });
      expect(limit.status).toBe(400);
      expect((await fetch(`${street.api.url}/api/nodes/street-99/messages`, { headers: { authorization: `Bearer ${street.token}` } })).status).toBe(404);
      expect((await fetch(`${street.api.url}/api/nodes/street-01/messages`)).status).toBe(401);
      const none = await street.staff<{ messages: Message[] }>("/api/nodes/street-01/messages?epoch=9&counter=9");
      expect(none.messages).toEqual([]);
    });
  });

  describe("GET /api/nodes/{device}/audit", () => {
    it("holds for a node whose every health report arrived, with its entries each once", async () => {
      const trail = await street.staff<Json & { entries: Array<{ seq: number; event: string }> }>("/api/nodes/street-01/audit");
      expect(trail).toMatchObject({ device: "street-01", holds: true, findings: [], truncated: false });
      expect(trail.chained).toBe(trail.reports);
      expect(trail.entries.map((e) => e.seq)).toEqual(trail.entries.map((_, i) => i));
      expect(trail.entries.map((e) => e.event)).toEqual(["audit-reset", "boot"]);
    });

    it("does not hold where a report that carried entries never arrived, and says which entries, as the alert would", async () => {
      const trail = await street.staff<Json & { findings: Json[]; entries: Array<{ event: string }> }>("/api/nodes/street-02/audit");
      expect(trail.holds).toBe(false);
      expect(trail.findings).toHaveLength(1);
      expect(trail.findings[0]).toMatchObject({ kind: "gap", cause: "missing", from: 2, settled: true });
      expect(String(trail.findings[0]!.detail)).toMatch(/^audit entr(y|ies) 2/);
      expect(trail.entries.map((e) => e.event)).not.toContain("command-accepted");
    });

    it("reads only the reports in from and to", async () => {
      const from = START_MS / 1000 + 3 * 900;
      const trail = await street.staff<Json>(`/api/nodes/street-01/audit?from=${from}`);
      expect(trail.reports).toBeLessThan(((await street.staff<Json>("/api/nodes/street-01/audit")).reports as number));
      expect(trail.holds).toBe(true);
    });
  });

  describe("GET /api/events", () => {
    it("says ready, then sends the entry of each node that stored something, and ends when the server closes", async () => {
      const stream = await openStream(street, { authorization: `Bearer ${street.token}` });
      expect(stream.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(stream.response.headers.get("cache-control")).toBe("no-store");
      expect(stream.response.headers.get("x-content-type-options")).toBe("nosniff");
      await stream.until((text) => text.includes("event: ready"));
      expect(stream.text).toMatch(/^retry: \d+\n\n/);
      await street.advance(WINDOW_MS);
      await stream.until((text) => /event: node\ndata: \{"device":"street-01"/.test(text));
      const data = /event: node\ndata: (.*)\n/.exec(stream.text.slice(stream.text.indexOf("event: node")))![1]!;
      const { nodes } = await street.staff<{ nodes: Json[] }>("/api/street");
      expect(Object.keys(JSON.parse(data) as Json).sort()).toEqual(Object.keys(nodes[0]!).sort());
      await stream.cancel();
    });

    it("admits the session cookie, refuses anyone else", async () => {
      expect((await fetch(`${street.api.url}/api/events`)).status).toBe(401);
      const cookie = await login(street);
      const stream = await openStream(street, { cookie });
      await stream.until((text) => text.includes("event: ready"));
      await stream.cancel();
    });

    it("closes a client that does not read once its queue is full, and every stream at close", () => {
      const writes: string[] = [];
      let destroyed = false;
      let ended = 0;
      const stuck = fakeResponse({ write: (text) => (writes.push(text), false), destroy: () => (destroyed = true) });
      const log: string[] = [];
      const live = new LiveEvents({ db: street.db, keyring: street.keyring, disclosures: undefined, operatorKey: undefined, now: Date.now }, () => ({ messages: async () => [], newestHealth: async () => undefined, newestAlert: async () => 0 }), {
        maxQueued: 3,
        heartbeatMs: 5,
        log: (_level, event) => log.push(event),
      });
      live.attach(stuck, {});
      const reading = fakeResponse({ write: () => true, end: () => ended++ });
      live.attach(reading, {});
      expect(live.clients).toBe(2);
      return new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (!destroyed) return;
          clearInterval(check);
          expect(log).toContain("api-events-client-dropped");
          expect(writes).toEqual(["retry: 3000\n\n"]); // the rest was queued, never written
          expect(live.clients).toBe(1);
          live.close();
          expect(ended).toBe(1);
          expect(live.clients).toBe(0);
          resolve();
        }, 5);
      });
    });
  });

  describe("logging in", () => {
    it("takes a one-time code once, for a session cookie that is HttpOnly and SameSite=Strict", async () => {
      const link = street.api.staffLoginUrl();
      expect(link).toMatch(new RegExp(`^${street.api.url}/login\\?code=[A-Za-z0-9_-]{22}$`));
      expect(link).not.toContain(street.token);
      const first = await fetch(link, { redirect: "manual" });
      expect(first.status).toBe(303);
      expect(first.headers.get("location")).toBe("/");
      expect(first.headers.get("cache-control")).toBe("no-store");
      const cookie = first.headers.get("set-cookie")!;
      expect(cookie).toMatch(new RegExp(`^civicnode-staff-${new URL(street.api.url).port}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}$`));
      const again = await fetch(link, { redirect: "manual" });
      expect(again.status).toBe(303);
      expect(again.headers.get("location")).toBe("/?login=expired");
      expect(again.headers.get("set-cookie")).toBeNull();
      const session = cookie.split(";")[0]!;
      expect((await fetch(`${street.api.url}/api/street`, { headers: { cookie: session } })).status).toBe(200);
      expect((await fetch(`${street.api.url}/api/nodes/street-01/summaries`, { headers: { cookie: session } })).status).toBe(200);
      expect(await (await fetch(`${street.api.url}/login/status`, { headers: { cookie: session } })).json()).toEqual({ staff: true });
      expect(await (await fetch(`${street.api.url}/login/status`)).json()).toEqual({ staff: false });
    });

    it("opens a session for the token shown once as a bearer credential, and for nothing else", async () => {
      const ok = await fetch(`${street.api.url}/login`, { headers: { authorization: `Bearer ${street.token}` } });
      expect(ok.status).toBe(204);
      expect(ok.headers.get("set-cookie")).toMatch(/^civicnode-staff-\d+=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict/);
      const wrong = await fetch(`${street.api.url}/login`, { headers: { authorization: `Bearer ${street.token.replace(/^./, (c) => (c === "A" ? "B" : "A"))}` } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("set-cookie")).toBeNull();
      expect((await fetch(`${street.api.url}/login?code=made-up-code-0000000000`, { redirect: "manual" })).headers.get("location")).toBe("/?login=expired");
      expect((await fetch(`${street.api.url}/login?code=<script>`, { redirect: "manual" })).status).toBe(400);
    });

    it("never admits a cookie on a request from another site, another collector's cookie, or an ended session", async () => {
      const session = await login(street);
      expect((await fetch(`${street.api.url}/api/street`, { headers: { cookie: session, "sec-fetch-site": "cross-site" } })).status).toBe(401);
      expect((await fetch(`${street.api.url}/api/street`, { headers: { cookie: session, "sec-fetch-site": "same-origin" } })).status).toBe(200);
      const otherPort = session.replace(/^civicnode-staff-\d+=/, "civicnode-staff-1=");
      expect((await fetch(`${street.api.url}/api/street`, { headers: { cookie: otherPort } })).status).toBe(401);
      const out = await fetch(`${street.api.url}/logout`, { headers: { cookie: session }, redirect: "manual" });
      expect(out.status).toBe(303);
      expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0$/);
      expect((await fetch(`${street.api.url}/api/street`, { headers: { cookie: session } })).status).toBe(401);
    });

    it("forgets a code after LOGIN_CODE_MS and a session after SESSION_MS, and keeps only so many", () => {
      let now = 1_000_000;
      const sessions = new StaffSessions(() => false, () => now);
      sessions.listening(8080);
      const late = sessions.issueCode();
      now += LOGIN_CODE_MS;
      expect(sessions.redeem(late)).toBeUndefined();
      const id = sessions.redeem(sessions.issueCode())!;
      const cookie = `other=1; civicnode-staff-8080=${id}`;
      expect(sessions.admits(cookie)).toBe(true);
      now += SESSION_MS;
      expect(sessions.admits(cookie)).toBe(false);
      const codes = Array.from({ length: 17 }, () => sessions.issueCode());
      expect(sessions.redeem(codes[0])).toBeUndefined(); // the oldest of 17 went
      expect(sessions.redeem(codes[16])).toBeDefined();
    });

    it("never writes the token into a log line", () => {
      expect(JSON.stringify(street.log)).not.toContain(street.token);
    });
  });

  describe("the page", () => {
    it("is served with a Content-Security-Policy that forbids inline script and other origins, its assets from the collector", async () => {
      const page = await fetch(`${street.api.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
      expect(DASHBOARD_CSP).toContain("script-src 'self'");
      expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await page.text();
      expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|style=|<style/);
      for (const [path, type] of [["/dashboard/dashboard.js", "text/javascript; charset=utf-8"], ["/dashboard/dashboard.css", "text/css; charset=utf-8"], ["/dashboard/uplot.css", "text/css; charset=utf-8"], ["/dashboard/icon.svg", "image/svg+xml"]]) {
        const asset = await fetch(`${street.api.url}${path}`);
        expect(asset.status, path).toBe(200);
        expect(asset.headers.get("content-type"), path).toBe(type);
      }
      expect(await (await fetch(`${street.api.url}/dashboard/dashboard.js`)).text()).not.toMatch(/\.innerHTML\s*=|insertAdjacentHTML|document\.write/);
    });

    it("answers its script with a 503 that says why when the bundle cannot be built, logged once, and serves the rest", async () => {
      const logged: string[] = [];
      const broken = await startTestApi({ db: street.db, pages: [dashboardPages({ log: (_level, event) => logged.push(event), assets: Promise.reject(new Error("no such folder")) })] });
      try {
        for (let i = 0; i < 2; i++) {
          const script = await fetch(`${broken.api.url}/dashboard/dashboard.js`);
          expect(script.status).toBe(503);
          expect(((await script.json()) as Json).message).toContain("hosts/collector/web/dashboard-client");
        }
        expect(logged.filter((e) => e === "dashboard-bundle-failed")).toHaveLength(1);
        expect((await fetch(`${broken.api.url}/`)).status).toBe(200);
        expect((await broken.get("/api/street")).status).toBe(200);
      } finally {
        await broken.close();
      }
    });
  });
});

/** A session cookie ("name=value") from the token, as the page's login form gets one. */
async function login(street: DashboardStreet): Promise<string> {
  const response = await fetch(`${street.api.url}/login`, { headers: { authorization: `Bearer ${street.token}` } });
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

/** GET /api/events, read as it comes. */
async function openStream(street: DashboardStreet, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(`${street.api.url}/api/events`, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const stream = {
    response,
    text: "",
    /** Reads until `done(text)`; the test's own timeout bounds it. */
    async until(done: (text: string) => boolean): Promise<void> {
      while (!done(stream.text)) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`the stream ended before the expected event:\n${stream.text}`);
        stream.text += decoder.decode(value, { stream: true });
      }
    },
    async cancel(): Promise<void> {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
  return stream;
}

/** The least of a ServerResponse LiveEvents uses, for a client whose socket never drains. */
function fakeResponse(behaviour: { write: (text: string) => boolean; destroy?: () => void; end?: () => void }) {
  return {
    writeHead: () => undefined,
    write: behaviour.write,
    on: () => undefined,
    end: behaviour.end ?? (() => undefined),
    destroy: behaviour.destroy ?? (() => undefined),
  } as unknown as import("node:http").ServerResponse;
}
