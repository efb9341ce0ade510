declare module "net" {
  const Net: {
    /** Looks `host` up by DNS; `address` is a dotted IP address, or undefined when the look-up failed. Throws when lwIP's look-up queue is full. */
    resolve(host: string, callback: (name: string, address: string | undefined) => void): void;
  };
  export { Net as default };
}
