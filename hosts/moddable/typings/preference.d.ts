declare module "preference" {
  /** Persistent settings: NVS on ESP32 (domain and key at most 15 characters), a JSON file on desktop simulators. */
  const Preference: {
    set(domain: string, key: string, value: string | boolean | number | ArrayBuffer): void;
    get(domain: string, key: string): string | boolean | number | ArrayBuffer | undefined;
    delete(domain: string, key: string): void;
    keys(domain: string): string[];
  };
  export { Preference as default };
}
