/// <reference lib="dom" />
/**
 * The live stream (GET /api/events, Server-Sent Events) as the page listens to it: the browser's
 * EventSource sends the session cookie and reconnects by itself after a dropped connection (the
 * server asks for 3 s); each `ready` means "fetch what you show, then follow the events". A stream
 * the server refuses (a 401: the session is gone) is closed for good and the page says so.
 */
import type { StreetNode } from "./api-types.js";

export type LiveState = "connecting" | "open" | "closed";

export interface LiveHandlers {
  readonly ready: () => void;
  readonly node: (node: StreetNode) => void;
  readonly alerts: () => void;
  readonly state: (state: LiveState) => void;
}

export class LiveStream {
  readonly #source: EventSource;

  constructor(handlers: LiveHandlers) {
    handlers.state("connecting");
    this.#source = new EventSource("/api/events");
    this.#source.addEventListener("open", () => handlers.state("open"));
    this.#source.addEventListener("error", () => handlers.state(this.#source.readyState === EventSource.CLOSED ? "closed" : "connecting"));
    this.#source.addEventListener("ready", () => handlers.ready());
    this.#source.addEventListener("node", (event) => {
      const node = parse<StreetNode>((event as MessageEvent<string>).data);
      if (node && typeof node.device === "string") handlers.node(node);
    });
    this.#source.addEventListener("alerts", () => handlers.alerts());
  }

  close(): void {
    this.#source.close();
  }
}

function parse<T>(data: string): T | undefined {
  try {
    return JSON.parse(data) as T;
  } catch {
    return undefined;
  }
}
