declare module "Resource" {
  /** A file built into the firmware image (manifest "resources" or "data"): a read-only host buffer in flash. */
  class Resource {
    constructor(path: string);
    static exists(path: string): boolean;
    readonly byteLength: number;
    /** A copy of the bytes `begin..end` in RAM. */
    slice(begin: number, end?: number): ArrayBuffer;
  }
  export { Resource as default };
}
