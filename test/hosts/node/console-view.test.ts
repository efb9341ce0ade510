/**
 * The simulator's console (console-view.ts) fits 120 columns: every kind of line it prints, at the
 * widths real streets reach and past them (256 nodes, large counters, every sensor faulty, every
 * store failing, a policy with many channels of its own), and on a terminal narrower than that.
 * Fuller forms first, details dropped in order, a cut only as the last resort.
 */
import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import type { HealthLine, SummaryLine } from "../../../hosts/collector/collector.js";
import type { ChannelSummary } from "../../../hosts/collector/decoded-messages.js";
import { REJECT_CAUSES, type RejectCause } from "../../../hosts/collector/message-opener.js";
import { columnsOf, CONSOLE_COLUMNS, ConsoleView, formatHealth, formatStatus, formatSummary, wrapText, type ViewStatus } from "../../../hosts/node/console-view.js";

const WINDOW = Date.UTC(2026, 10, 27, 2, 35) / 1000;

function summary(channels: Record<string, ChannelSummary>, device = "street-01", counter = 3): SummaryLine {
  return { zone: "demo-street", device, epoch: 0, counter, windowStart: WINDOW, windowSeconds: 300, channels, receivedAt: "", windowStartIso: "", tag: "" };
}

/** The reference street's channels as a summary carries them. */
function street(values: { t?: number; rh?: number; co2?: number; pm?: number; leq?: number; people?: number | string; vehicles?: number | string; devices?: number | string } = {}): Record<string, ChannelSummary> {
  return {
    temperature: { unit: "Cel", count: 30, mean: values.t ?? 1.94, min: 1.9, max: 2.0 },
    humidity: { unit: "%RH", count: 30, mean: values.rh ?? 86.9, min: 86.7, max: 87 },
    co2: { unit: "ppm", count: 300, mean: values.co2 ?? 458, min: 452, max: 466 },
    pm1: { unit: "ug/m3", count: 300, mean: 13.3, max: 15 },
    pm2_5: { unit: "ug/m3", count: 300, mean: values.pm ?? 18.7, max: 21 },
    pm10: { unit: "ug/m3", count: 300, mean: 31.8, max: 40 },
    noise: { unit: "dB", count: 2400, leq: values.leq ?? 55.7, l10: 55.8, l90: 38, max: 71 },
    people: { sum: values.people ?? 6 },
    vehicles: { sum: values.vehicles ?? 11 },
    occupancy: { unit: "s", sum: 3 },
    devices: { distinct: values.devices ?? 51 },
  };
}

function health(sensors: HealthLine["sensors"], device = "street-04"): HealthLine {
  return { zone: "demo-street", device, epoch: 0, counter: 7, time: WINDOW + 300, node: {}, budget: {}, commands: {}, audit: [], sensors, receivedAt: "", timeIso: "", tag: "" };
}

function status(overrides: Partial<ViewStatus> = {}): ViewStatus {
  const rejectedByCause = Object.fromEntries(REJECT_CAUSES.map((cause) => [cause, 0])) as Record<RejectCause, number>;
  return { simWallMs: WINDOW * 1000, speed: 60, nodes: 8, windowsDone: 2, windowsGoal: undefined, accepted: 24, rejected: 0, rejectedByCause, queued: 0, brokerConnected: 8, faultySensors: 0, ...overrides };
}

const fits = (line: string, columns = CONSOLE_COLUMNS) => expect(columnsOf(line), line).toBeLessThanOrEqual(columns);

describe("summary lines", () => {
  it("show one figure per channel of the street in its full form, within 120 columns", () => {
    const line = formatSummary(summary(street()));
    expect(line).toBe("02:35Z street-01  #3    T 1.9°C  RH 87%  CO2 458ppm  PM2.5 19µg/m³  noise 56dB  people 6  vehicles 11  devices 51");
    fits(line);
    expect(formatSummary(summary(street({ t: 3 })))).toMatch(/ T 3\.0°C /); // a tenth of a degree, always
  });

  it("show withheld counts and missing channels as markers, never as numbers", () => {
    const night = summary({ ...street({ people: "suppressed", vehicles: "budget-exhausted", devices: "suppressed" }), temperature: { status: "missing" } });
    const line = formatSummary(night);
    expect(line).toBe("02:35Z street-01  #3    T n/a  RH 87%  CO2 458ppm  PM2.5 19µg/m³  noise 56dB  people <k  vehicles [budget]  devices <k");
    fits(line);
  });

  it("fit at the widest values a street gives, dropping the double spaces first", () => {
    const wide = summary(street({ t: -12.34, rh: 100, co2: 1234, pm: 999, leq: 100, people: -10, vehicles: 123, devices: 123 }), "street-256", 123456);
    expect(formatSummary(wide)).toBe("02:35Z street-256 #123456 T -12.3°C RH 100% CO2 1234ppm PM2.5 999µg/m³ noise 100dB people -10 vehicles 123 devices 123");
    // A faulty climate sensor at night: both of its channels missing, every count withheld.
    const faultyNight = summary({ ...street({ co2: 1234, people: "suppressed", vehicles: "suppressed", devices: "suppressed" }), temperature: { status: "missing" }, humidity: { status: "missing" } }, "street-256", 123456);
    expect(formatSummary(faultyNight)).toBe("02:35Z street-256 #123456 T n/a  RH n/a  CO2 1234ppm  PM2.5 19µg/m³  noise 56dB  people <k  vehicles <k  devices <k");
    for (const line of [formatSummary(wide), formatSummary(faultyNight)]) fits(line);
  });

  it("cut, at a space and ending in …, only what no form fits: a policy's many channels of its own", () => {
    const channels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`channel-${i}`, { unit: "ppm", count: 1, mean: 1000 + i }]));
    const line = formatSummary(summary(channels));
    fits(line);
    expect(line).toMatch(/^02:35Z street-01  #3    channel-0 1000ppm channel-1 1001ppm .* channel-\d+ \d+ppm …$/);
    // The street's channels at their widest, all at once, still fit, with single spaces.
    const everything = formatSummary(summary({ ...street({ t: -12.34, co2: 1234, vehicles: "budget-exhausted", people: "suppressed", devices: "suppressed" }), humidity: { status: "missing" } }, "street-256", 123456));
    fits(everything);
    expect(everything).toMatch(/vehicles \[budget\] devices <k$/);
  });
});

describe("health lines", () => {
  it("name the sensor and its new drops by cause, within 120 columns", () => {
    const line = formatHealth(health({ climate: { status: "faulty", drops: { bus: 21 } }, pm: { status: "ok", drops: { checksum: 0 } } }), undefined);
    expect(line).toBe("02:40Z street-04  health: climate FAULTY (bus +21)");
  });

  it("fit with every part faulty and dropping by every cause: the totals, then a cut", () => {
    const drops = { bus: 1000, crc: 2000, checksum: 3000, frame: 4000, range: 5000, stuck: 6000, timeout: 7000 };
    const sensors = Object.fromEntries(["climate", "air", "pm", "sound", "radar", "loop", "ble"].map((id) => [id, { status: "faulty", drops }]));
    const line = formatHealth(health(sensors, "street-256"), undefined);
    fits(line);
    expect(line).toBe("02:40Z street-256 health: climate FAULTY (+28000); air FAULTY (+28000); pm FAULTY (+28000); sound FAULTY (+28000); …");
    // Faulty ones first; the others that dropped readings, counted.
    const sensors2 = Object.fromEntries(["climate", "air", "pm", "sound", "radar", "loop", "ble"].map((id, i) => [id, { status: i === 2 || i === 3 ? "faulty" : "ok", drops }]));
    expect(formatHealth(health(sensors2), undefined)).toBe("02:40Z street-04  health: pm FAULTY (+28000); sound FAULTY (+28000); 5 more dropped readings");
    const three = formatHealth(health({ climate: { status: "faulty", drops }, pm: { status: "ok", drops: { checksum: 12, frame: 3 } }, radar: { status: "ok", drops: { bus: 2 } } }), undefined);
    fits(three);
    expect(three).toBe("02:40Z street-04  health: climate FAULTY (+28000); pm ok (+15); radar ok (+2)");
    expect(formatHealth(health({ pm: { status: "ok", drops: { checksum: 12, frame: 3 } }, radar: { status: "faulty", drops: { bus: 2 } } }), undefined)).toBe(
      "02:40Z street-04  health: radar FAULTY (bus +2); pm ok (checksum +12, frame +3)",
    );
  });
});

describe("the status line", () => {
  it("says time, nodes, progress, messages, queue and sensors within 120 columns", () => {
    const line = formatStatus(status());
    expect(line).toBe("sim 2026-11-27 02:35Z x60 | 8/8 nodes online | 2 windows/node | 24 decrypted, 0 rejected | queued 0 | all sensors ok");
    fits(line);
  });

  it("puts storage trouble first and keeps it there when the rest must give way", () => {
    const failing = Array.from({ length: 40 }, (_, i) => `street-${String(i + 1).padStart(2, "0")} EROFS`);
    const two = formatStatus(status({ storeFailures: failing.slice(0, 2), faultySensors: 2, queued: 15, dropped: 3, brokerConnected: 6 }));
    expect(two).toBe("sim 02:35Z x60 | STORE FAILING: street-01 EROFS, street-02 EROFS | 2 windows/node | 24 decrypted, 0 rejected");
    const six = formatStatus(status({ storeFailures: failing.slice(0, 6) }));
    expect(six).toBe("sim 02:35Z x60 | STORE FAILING: street-01 EROFS, street-02 EROFS, street-03 EROFS, street-04 EROFS +2 more …");
    // A full disk: the nodes' stores and the collector's at once, each with its cause.
    const full = formatStatus(status({ speed: 600, storeFailures: ["street-01 ENOSPC", "street-02 ENOSPC"], sealFailures: 16, collectorStoreFailure: "disk-full (SQLITE_FULL)" }));
    expect(full).toBe("sim 02:35Z x600 | STORE FAILING: street-01 ENOSPC +1 more | 16 seal failure(s) | COLLECTOR CANNOT STORE: disk-full …");
    expect(formatStatus(status({ collectorStoreFailure: "ENOSPC", sealFailures: 2 }))).toBe(
      "sim 02:35Z x60 | 2 seal failure(s) | COLLECTOR CANNOT STORE: ENOSPC | 2 windows/node | 24 decrypted, 0 rejected",
    );
    // Everything failing at once, at the largest figures: the trouble stays, the rest is cut.
    const rejectedByCause = Object.fromEntries(REJECT_CAUSES.map((cause) => [cause, 1234])) as Record<RejectCause, number>;
    const worst = status({ speed: 36000, nodes: 256, brokerConnected: 256, windowsDone: 12345, windowsGoal: 100000, accepted: 1234567, rejected: 1234 * REJECT_CAUSES.length, rejectedByCause, queued: 12345, dropped: 678, faultySensors: 1792, storeFailures: failing, sealFailures: 12, collectorStoreFailure: "ENOSPC" });
    const line = formatStatus(worst);
    fits(line);
    expect(line).toBe("sim 02:35Z x36000 | STORE FAILING: street-01 EROFS +39 more | 12 seal failure(s) | COLLECTOR CANNOT STORE: ENOSPC …");
  });

  it("gives up the causes of rejection first, then what is well, before what is not", () => {
    const large = formatStatus(status({ speed: 600, nodes: 256, brokerConnected: 256, windowsDone: 1234, accepted: 123456 }));
    expect(large).toBe("sim 2026-11-27 02:35Z x600 | 1234 windows/node | 123456 decrypted, 0 rejected");
    const offline = formatStatus(status({ brokerConnected: 5, faultySensors: 1, rejected: 3, rejectedByCause: { ...status().rejectedByCause, authentication: 3 } }));
    expect(offline).toBe("sim 2026-11-27 02:35Z x60 | 5/8 nodes online | 2 windows/node | 24 decrypted, 3 rejected | queued 0 | 1 sensor(s) faulty");
  });

  it("fits a terminal narrower than 120 columns", () => {
    fits(formatStatus(status({ faultySensors: 2, dropped: 5 }), 80), 80);
  });
});

describe("messages and the terminal", () => {
  class Terminal extends PassThrough {
    readonly isTTY = true;
    constructor(readonly columns: number) {
      super();
    }
  }

  const long = "created the passphrase that seals the keys in /home/someone/civicnode/.civicnode: /home/someone/civicnode/.civicnode/passphrase (mode 0600); a city keeps its passphrase elsewhere, not beside the keyring: move it and set CIVICNODE_PASSPHRASE_FILE (docs/keys-at-rest.md)";

  it("wraps a long message at spaces on a terminal, continued with an indent, and keeps every word", () => {
    // Summary lines are made for 120 columns; messages and the status line also fit narrower terminals.
    for (const columns of [200, 120, 80, 40]) {
      const out = new Terminal(columns);
      const view = new ConsoleView(out as unknown as NodeJS.WriteStream);
      view.message(long);
      view.status(status({ faultySensors: 1 }));
      view.summary(summary(street()));
      view.finish();
      const written = String(out.read());
      const lines = written.split(/\r\x1b\[2K|\n/).filter((line) => line !== "");
      for (const line of lines) fits(line, line.startsWith("02:35Z") ? CONSOLE_COLUMNS : Math.min(columns, CONSOLE_COLUMNS));
      const wrapped = lines.slice(0, lines.findIndex((line) => line.startsWith("sim ")));
      expect(wrapped.length).toBeGreaterThan(1);
      expect(wrapped.slice(1).every((line) => line.startsWith("  "))).toBe(true);
      // At 40 columns the paths are wider than a line: cut, nothing lost.
      if (columns >= 80) expect(wrapped.map((line) => line.trim()).join(" ")).toBe(long);
      else expect(wrapped.join("").replace(/\s/g, "")).toBe(long.replace(/\s/g, ""));
    }
  });

  it("leaves a message whole in a pipe, for whoever searches the log", () => {
    const out = new PassThrough();
    new ConsoleView(out as unknown as NodeJS.WriteStream).message(long);
    expect(String(out.read())).toBe(`${long}\n`);
  });

  it("cuts a word wider than the terminal rather than let it wrap", () => {
    const text = wrapText(`a ${"x".repeat(250)} b`, 100);
    for (const line of text.split("\n")) fits(line, 100);
    expect(text.replace(/\n {2}/g, "").replace(/ /g, "")).toBe(`a${"x".repeat(250)}b`);
  });
});
