/**
 * Keeps the ESP32 on Wi-Fi and its wall clock set, for the life of the node.
 *
 * The SDK's default network setup (build/devices/esp32/setup/network.js) connects once, before
 * `main`, and does nothing when the access point goes away later; a street node must survive
 * router reboots for years. So: connect as a station, reconnect with capped exponential backoff
 * after every disconnect, and fetch the time by SNTP after every new IP address and then every six
 * hours (the ESP32's RTC drifts by seconds a day, and windows are named by wall-clock time).
 * The MQTT transport reconnects by itself once the network is back.
 */
import WiFi from "embedded:network/interface/wifi";
import SNTP from "sntp";
import type { Log } from "../../src/platform.js";
import type { ModdableClock } from "./moddable-clock.js";
import { closeUntyped } from "./sdk-close.js";

export interface NetworkLinkOptions {
  readonly ssid: string;
  readonly password: string | undefined;
  /** SNTP servers, tried in turn. */
  readonly sntpHosts: readonly string[];
  readonly clock: ModdableClock;
  readonly log: Log;
}

/** `WiFi.connection` values (ECMA-419 network interface, Moddable's esp32 implementation). */
const HAS_ADDRESS = 500;
const CONNECTING = 300;
const RECONNECT_INITIAL_MS = 1_000;
const RECONNECT_MAX_MS = 60_000;
const TIME_REFRESH_MS = 6 * 3600_000;
const TIME_RETRY_MS = 60_000;

export class NetworkLink {
  readonly #options: NetworkLinkOptions;
  #wifi: WiFi | undefined;
  #sntp: SNTP | undefined;
  #online = false;
  #reconnectMs = RECONNECT_INITIAL_MS;
  #reconnectTimer: object | undefined;
  #timeTimer: object | undefined;

  constructor(options: NetworkLinkOptions) {
    this.#options = options;
  }

  get online(): boolean {
    return this.#online;
  }

  start(): void {
    this.#wifi = new WiFi({ onChanged: (property) => property === "connection" && this.#onConnection() });
    this.#connect();
  }

  #connect(): void {
    const { ssid, password } = this.#options;
    this.#wifi?.connect({ SSID: ssid, ...(password ? { password } : {}) });
  }

  #onConnection(): void {
    const { log, clock } = this.#options;
    const connection = this.#wifi?.connection ?? 0;
    if (connection >= HAS_ADDRESS) {
      if (this.#online) return;
      this.#online = true;
      this.#reconnectMs = RECONNECT_INITIAL_MS;
      log("info", "wifi-online", { ssid: this.#options.ssid });
      this.#fetchTime();
    } else if (connection < CONNECTING) {
      if (this.#online) log("warn", "wifi-offline", { ssid: this.#options.ssid });
      this.#online = false;
      if (this.#reconnectTimer !== undefined) return;
      const delay = this.#reconnectMs;
      this.#reconnectMs = Math.min(this.#reconnectMs * 2, RECONNECT_MAX_MS);
      this.#reconnectTimer = clock.once(() => {
        this.#reconnectTimer = undefined;
        this.#connect();
      }, delay);
    }
  }

  #fetchTime(): void {
    const { clock, log, sntpHosts } = this.#options;
    if (this.#sntp || sntpHosts.length === 0) return;
    if (this.#timeTimer !== undefined) clock.clear(this.#timeTimer);
    this.#timeTimer = undefined;
    let next = 0;
    this.#sntp = new SNTP({ host: sntpHosts[next++]! }, (message, value) => {
      if (message === SNTP.retry) return undefined;
      // On an error the SDK asks for another host: try the next one before giving up.
      if (message === SNTP.error && next < sntpHosts.length) return sntpHosts[next++];
      this.#sntp = undefined;
      const ok = message === SNTP.time && typeof value === "number";
      if (ok) {
        clock.setWall(value);
        log("info", "time-set", { unixSeconds: value });
      } else log("warn", "time-unavailable", { hosts: sntpHosts.join(" ") });
      this.#timeTimer = clock.once(() => {
        this.#timeTimer = undefined;
        if (this.#online) this.#fetchTime();
      }, ok ? TIME_REFRESH_MS : TIME_RETRY_MS);
      return undefined;
    });
  }

  stop(): void {
    const { clock } = this.#options;
    if (this.#reconnectTimer !== undefined) clock.clear(this.#reconnectTimer);
    if (this.#timeTimer !== undefined) clock.clear(this.#timeTimer);
    if (this.#sntp) closeUntyped(this.#sntp);
    this.#wifi?.close();
  }
}
