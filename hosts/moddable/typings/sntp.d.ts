declare module "sntp" {
  type SNTPMessage = -1 | 1 | 2;
  class SNTP {
    /** Time retrieved: `value` is Unix seconds. */
    static readonly time: 1;
    /** Trying the next host. */
    static readonly retry: 2;
    /** No host answered. */
    static readonly error: -1;
    /** On `error` the callback may return another host to try; `value` is the time (Unix seconds) or the error's text. */
    constructor(options: { host: string }, callback: (message: SNTPMessage, value?: number | string) => string | undefined);
    // no close(): the SDK's typing has none, though the implementation does (see sdk-close.ts)
  }
  export { SNTP as default };
}
