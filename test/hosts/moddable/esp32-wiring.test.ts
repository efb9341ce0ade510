/** The firmware's pin table and the board document describe the same board. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WIRING } from "../../../hosts/moddable/esp32-wiring.js";
import { projectRoot } from "../../../hosts/xs/bundle.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";

const board = readFileSync(join(projectRoot(), "docs/board.md"), "utf8");

/** The table row for a bus name (first column) and part. */
function row(name: string, part: string): string {
  const found = board.split("\n").find((line) => line.startsWith(`| \`${name}\` `) && line.includes(part));
  if (!found) throw new Error(`docs/board.md has no row for ${name} / ${part}`);
  return found;
}

const gpio = (line: string, label: string) => Number(new RegExp(`${label} GPIO(\\d+)`).exec(line)?.[1]);

describe("the ESP32 wiring", () => {
  it("puts the I2C bus on the documented pins and speed", () => {
    const line = row("main", "SHT4x");
    expect(WIRING.i2c.main).toMatchObject({ data: gpio(line, "SDA"), clock: gpio(line, "SCL") });
    expect(line).toContain(`${WIRING.i2c.main!.hz / 1000} kHz`);
  });

  it("puts the UARTs on the documented ports and pins", () => {
    const pm = row("pm", "PMS5003");
    expect(WIRING.uart.pm).toMatchObject({ port: Number(/UART(\d)/.exec(pm)![1]), receive: gpio(pm, "RX"), transmit: gpio(pm, "TX") });
    expect(WIRING.pmsSetPin).toBe(gpio(pm, "SET"));
    const radar = row("radar", "LD2410");
    expect(WIRING.uart.radar).toMatchObject({ port: Number(/UART(\d)/.exec(radar)![1]), receive: gpio(radar, "RX"), transmit: gpio(radar, "TX") });
  });

  it("reads the sound level and the loop on the documented pins", () => {
    expect(WIRING.analog.sound).toBe(gpio(row("sound", "sound-level meter"), "divider →"));
    expect(WIRING.digital.loop).toBe(gpio(row("loop", "loop detector"), "collector →"));
  });

  it("names every bus and pin the street policy opens", () => {
    const { sensors } = streetNodeConfig("street-01", "demo-street") as { sensors: { part: string; bus?: string; port?: string; pin?: string }[] };
    const tables: Record<string, Readonly<Record<string, unknown>>> = {
      sht4x: WIRING.i2c, scd4x: WIRING.i2c, pms5003: WIRING.uart, ld2410: WIRING.uart,
      "sound-level-meter": WIRING.analog, "vehicle-detector": WIRING.digital,
    };
    for (const sensor of sensors) {
      if (sensor.part === "ble-scan") continue; // the on-chip radio
      const name = sensor.bus ?? sensor.port ?? sensor.pin ?? "";
      expect(tables[sensor.part]?.[name], `${sensor.part} on ${name}`).toBeDefined();
    }
    expect(sensors.length).toBe(7);
  });

  it("sizes each UART ring for two polls of its part's reports", () => {
    // PMS5003: one 32-byte frame a second, polled once a second; LD2410: about 10 reports a second
    // (at most 64 bytes each, engineering mode), polled every 200 ms. Two polls' worth, at least.
    expect(WIRING.uart.pm!.ringBytes).toBeGreaterThanOrEqual(2 * 32);
    expect(WIRING.uart.radar!.ringBytes).toBeGreaterThanOrEqual(2 * 64);
  });
});
