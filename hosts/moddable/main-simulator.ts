/**
 * Firmware entry for Moddable's desktop simulator (`mcconfig -m -p lin`, also mac and win): the
 * same node as on the ESP32, with the reference board simulated at the bus level (hosts/sim) and
 * driven by real time, its store in Preference (a JSON file), MQTT over the host's network.
 */
import config from "mc/config";
import Preference from "preference";
import { simulatedReferenceBoard } from "../sim/reference-board.js";
import { brokerSocket } from "./broker-socket.js";
import { caCertificate } from "./ca-certificate.js";
import { startFirmware } from "./firmware.js";
import { firmwareSettings } from "./firmware-settings.js";
import { HardwareRandom } from "./hardware-random.js";
import { ModdableClock } from "./moddable-clock.js";
import { PreferenceStore } from "./preference-store.js";
import { traceLog } from "./trace-log.js";

/** Boots the node; a bad setting is reported on the console instead of aborting the VM. */
function boot(): void {
  const settings = firmwareSettings(config);
  const log = traceLog(settings.logDebug);
  const clock = new ModdableClock(true); // the host's clock is set
  startFirmware({
    settings,
    clock,
    random: new HardwareRandom(),
    // A journal left by a power cut is finished (or discarded) here, before the node reads its state.
    store: new PreferenceStore(Preference, "civicnode", { onRecovery: (recovery) => log("warn", "store-journal-recovered", { recovery }) }),
    openSocket: brokerSocket(settings.brokerCa ? { certificate: caCertificate(settings.brokerCa) } : {}),
    log,
    board: (device, zone) => simulatedReferenceBoard(device, zone, clock, clock).board,
  });
}

try {
  boot();
} catch (error) {
  const { name, message } = error as Error;
  traceLog(false)("error", name === "SettingsError" ? "config-invalid" : "firmware-failed", { error: name, message });
}
