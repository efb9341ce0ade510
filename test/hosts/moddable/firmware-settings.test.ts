import { describe, expect, it } from "vitest";
import { SettingsError, brokerAddress, firmwareSettings } from "../../../hosts/moddable/firmware-settings.js";

/** manifest.json's config section as mc/config gives it, with overrides. */
function settings(overrides: Record<string, unknown> = {}) {
  return firmwareSettings({
    device: "street-01",
    zone: "demo-street",
    broker: "mqtt://127.0.0.1:1883",
    brokerCa: "",
    wifiSsid: "",
    wifiPassword: "",
    sntp: "pool.ntp.org,time.cloudflare.com",
    logDebug: false,
    ...overrides,
  });
}

describe("firmwareSettings", () => {
  it("reads the manifest's defaults", () => {
    const parsed = settings();
    expect(parsed).toMatchObject({
      device: "street-01",
      zone: "demo-street",
      broker: { secure: false, host: "127.0.0.1", port: 1883 },
      brokerCa: undefined,
      outboxCapacity: 256,
      outboxBytes: 65536,
      ssid: "",
      password: undefined,
      logDebug: false,
    });
    expect(parsed.sntpHosts).toEqual(["pool.ntp.org", "time.cloudflare.com"]);
  });

  it("accepts numbers and flags as the strings mcconfig's command line gives", () => {
    const parsed = settings({ outboxCapacity: "96", outboxBytes: "163840", logDebug: "true", wifiSsid: "city-iot", wifiPassword: "s3cret" });
    expect(parsed.outboxCapacity).toBe(96);
    expect(parsed.outboxBytes).toBe(163840);
    expect(parsed.logDebug).toBe(true);
    expect(parsed.ssid).toBe("city-iot");
    expect(parsed.password).toBe("s3cret");
  });

  it("needs a CA exactly when the broker is mqtts://", () => {
    expect(settings({ broker: "mqtts://broker.city.example", brokerCa: "broker-ca" })).toMatchObject({
      broker: { secure: true, host: "broker.city.example", port: 8883 },
      brokerCa: "broker-ca",
    });
    expect(() => settings({ broker: "mqtts://broker.city.example" })).toThrow(/names no CA/);
    expect(() => settings({ brokerCa: "broker-ca" })).toThrow(/not mqtts/);
  });

  it.each([
    [{ device: "Street 01" }, /config.device/],
    [{ zone: "" }, /config.zone/],
    [{ device: 7 }, /config.device must be a string/],
    [{ windowSeconds: 60 }, /the window is the signed policy's/],
    [{ policy: { windowSeconds: 60 } }, /config.policy is not a setting: a node runs the policy signed for it/],
    [{ outboxCapacity: 3 }, /outboxCapacity/],
    [{ outboxCapacity: 2000 }, /outboxCapacity/],
    [{ outboxBytes: 4096 }, /outboxBytes/],
    [{ outboxBytes: "lots" }, /outboxBytes/],
    [{ broker: "http://127.0.0.1" }, /config.broker/],
  ])("refuses %j, naming the setting", (override, message) => {
    expect(() => settings(override)).toThrow(SettingsError);
    expect(() => settings(override)).toThrow(message);
  });

  it("drops empty SNTP entries and allows none", () => {
    expect(settings({ sntp: " a.example , ,b.example" }).sntpHosts).toEqual(["a.example", "b.example"]);
    expect(settings({ sntp: "" }).sntpHosts).toEqual([]);
  });
});

describe("brokerAddress", () => {
  it.each([
    ["mqtt://10.0.0.2", { secure: false, host: "10.0.0.2", port: 1883 }],
    ["mqtt://broker.local:18831/", { secure: false, host: "broker.local", port: 18831 }],
    ["mqtts://[fd00::1]:8884", { secure: true, host: "fd00::1", port: 8884 }],
  ])("parses %s", (url, expected) => {
    expect(brokerAddress(url)).toEqual(expected);
  });

  it.each(["mqtt://", "mqtt://host:0", "mqtt://host:70000", "mqtt://user@host", "tcp://host:1883", "mqtt://host/path"])("refuses %s", (url) => {
    expect(() => brokerAddress(url)).toThrow(SettingsError);
  });
});
