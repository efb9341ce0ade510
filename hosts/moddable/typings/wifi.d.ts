declare module "embedded:network/interface/wifi" {
  class WiFi {
    /** `onChanged` hears "connection" (see `connection`) and "address" changes. */
    constructor(options: { onChanged?: (this: WiFi, property: "connection" | "address") => void });
    connect(options: { SSID: string; password?: string }): void;
    disconnect(): void;
    close(): void;
    /** 500 connected with an IP address, 400 connected, 300 connecting, 200 disconnected (modules/io/wifi/esp32/wifi-esp32.c). */
    readonly connection: number;
    readonly address: string | undefined;
  }
  export default WiFi;
}
