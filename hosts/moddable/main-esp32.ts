/**
 * Firmware entry for an ESP32 street node (`mcconfig -m -p esp32`): the reference board's parts on
 * their GPIOs (docs/board.md), the store in NVS, Wi-Fi kept up and the clock set by SNTP.
 */
import config from "mc/config";
import Preference from "preference";
import { brokerSocket } from "./broker-socket.js";
import { Esp32ReferenceBoard } from "./esp32-board.js";
import { startFirmware } from "./firmware.js";
import { firmwareSettings } from "./firmware-settings.js";
import { HardwareRandom } from "./hardware-random.js";
import { ModdableClock } from "./moddable-clock.js";
import { NetworkLink } from "./network-link.js";
import { PreferenceStore } from "./preference-store.js";
import { traceLog } from "./trace-log.js";
import { caCertificate } from "./ca-certificate.js";

/** Boots the node; a bad setting is reported on the console instead of aborting the VM. */
function boot(): void {
  const settings = firmwareSettings(config);
  const log = traceLog(settings.logDebug);
  const clock = new ModdableClock(false); // no RTC: the time comes from SNTP
  if (settings.ssid) new NetworkLink({ ssid: settings.ssid, password: settings.password, sntpHosts: settings.sntpHosts, clock, log }).start();
  else log("warn", "no-wifi", { help: "set config wifiSsid (and wifiPassword) in the manifest or on the mcconfig command line" });
  startFirmware({
    settings,
    clock,
    random: new HardwareRandom(),
    // A journal left by a power cut is finished (or discarded) here, before the node reads its state.
    store: new PreferenceStore(Preference, "civicnode", { onRecovery: (recovery) => log("warn", "store-journal-recovered", { recovery }) }),
    openSocket: brokerSocket(settings.brokerCa ? { certificate: caCertificate(settings.brokerCa) } : {}),
    log,
    board: () => new Esp32ReferenceBoard(),
    reboot: chipRestart(),
  });
}

/**
 * The chip's restart: ECMA-419's `System.restart()` (esp_restart), the global that the SDK's io
 * manifest preloads (modules/io/system/system.js, included for esp32). Undefined when a build lacks
 * it: the node then restarts in place (firmware.ts).
 */
function chipRestart(): (() => void) | undefined {
  const system = (globalThis as { System?: { restart?: () => void } }).System;
  return typeof system?.restart === "function" ? () => system.restart!() : undefined;
}

try {
  boot();
} catch (error) {
  const { name, message } = error as Error;
  traceLog(false)("error", name === "SettingsError" ? "config-invalid" : "firmware-failed", { error: name, message });
}
