/**
 * The live stream behind GET /api/events: Server-Sent Events (HTML Living Standard, section
 * 9.2) that tell the dashboard what changed in the store, so that new windows appear without a
 * reload.
 *
 * It watches the database, not one collector's traffic: with several collectors in a group, the
 * instance that serves the API stores only its share of the messages, while the database holds
 * them all. While at least one client listens, it asks the store every POLL_MS which devices
 * stored something since (their last-seen time or newest window moved) and whether an alert was
 * recorded, and sends
 *
 *   event: node     data: the device's street entry (street-entry.ts), as GET /api/street has it
 *   event: alerts   data: {"newest": <the newest alert's number>}
 *   : keep-alive    every HEARTBEAT_MS, so proxies and the browser keep the connection open
 *
 * after `event: ready` once its baseline is taken: a client fetches what it shows then, and
 * everything later comes as events. Bounded: at most MAX_CLIENTS streams (another is a 503), and a
 * client that does not read its stream gets at most MAX_QUEUED events queued, then it is closed (its
 * EventSource reconnects after RETRY_MS and starts from `ready` again). With no client, it does
 * not poll. close() ends every stream, so that a collector that stops exits.
 */
import type { ServerResponse } from "node:http";
import type { Log } from "../../../../src/platform.js";
import { knownDevices, type ApiContext } from "../api-route.js";
import type { StoreReads } from "./store-reads.js";
import { streetEntry } from "./street-entry.js";

export const POLL_MS = 1000;
export const HEARTBEAT_MS = 15_000;
export const MAX_CLIENTS = 16;
export const MAX_QUEUED = 512;
/** How long a browser waits before it reconnects (the stream's `retry` field). */
export const RETRY_MS = 3000;

export interface LiveEventsOptions {
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  readonly maxClients?: number;
  readonly maxQueued?: number;
  readonly log?: Log;
}

/** One listening browser: its response, and what waits while its socket is full. */
class EventClient {
  readonly response: ServerResponse;
  readonly #queue: string[] = [];
  readonly #maxQueued: number;
  #blocked = false;

  constructor(response: ServerResponse, maxQueued: number) {
    this.response = response;
    this.#maxQueued = maxQueued;
    response.on("drain", () => this.#flush());
  }

  /** Writes or queues `text`; false when the queue is full (the client must go). */
  send(text: string): boolean {
    if (this.#blocked) {
      if (this.#queue.length >= this.#maxQueued) return false;
      this.#queue.push(text);
      return true;
    }
    this.#blocked = !this.response.write(text);
    return true;
  }

  #flush(): void {
    this.#blocked = false;
    while (this.#queue.length > 0 && !this.#blocked) this.#blocked = !this.response.write(this.#queue.shift()!);
  }
}

export class LiveEvents {
  readonly #context: ApiContext;
  readonly #reads: () => StoreReads;
  readonly #pollMs: number;
  readonly #heartbeatMs: number;
  readonly #maxClients: number;
  readonly #maxQueued: number;
  readonly #log: Log;
  readonly #clients = new Set<EventClient>();
  /** Per device, "lastSeenMs/lastWindowStart" at the last poll; undefined until a baseline is taken. */
  #seen: Map<string, string> | undefined;
  #newestAlert = 0;
  #poll: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #baseline: Promise<void> | undefined;
  /** Grows at every start and stop, so that a poll of a stopped watch does not go on. */
  #generation = 0;
  #failing = false;
  #closed = false;

  constructor(context: ApiContext, reads: () => StoreReads, options: LiveEventsOptions = {}) {
    this.#context = context;
    this.#reads = reads;
    this.#pollMs = options.pollMs ?? POLL_MS;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#maxClients = options.maxClients ?? MAX_CLIENTS;
    this.#maxQueued = options.maxQueued ?? MAX_QUEUED;
    this.#log = options.log ?? (() => {});
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Whether another client may connect. */
  get hasRoom(): boolean {
    return !this.#closed && this.#clients.size < this.#maxClients;
  }

  /** Takes `response` over as an event stream with `headers` (the server's security headers among them). */
  attach(response: ServerResponse, headers: Readonly<Record<string, string>>): void {
    response.writeHead(200, { ...headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no" });
    const client = new EventClient(response, this.#maxQueued);
    this.#clients.add(client);
    response.on("close", () => this.#drop(client));
    client.send(`retry: ${RETRY_MS}\n\n`);
    this.#start();
    void this.#ready(client);
  }

  /** Ends every stream and stops watching. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients) client.response.end();
    this.#clients.clear();
    this.#stop();
  }

  async #ready(client: EventClient): Promise<void> {
    await this.#baseline;
    if (this.#clients.has(client)) this.#sendTo(client, "ready", { pollMs: this.#pollMs });
  }

  #start(): void {
    if (this.#heartbeat !== undefined || this.#closed) return;
    const generation = ++this.#generation;
    // One poll at a time: the next is timed from the end of the last.
    const loop = () => {
      if (generation !== this.#generation) return;
      this.#poll = setTimeout(() => void this.#tick(false).then(loop), this.#pollMs);
      this.#poll.unref();
    };
    this.#baseline = this.#tick(true).then(loop);
    this.#heartbeat = setInterval(() => this.#broadcast(": keep-alive\n\n"), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  #stop(): void {
    this.#generation++;
    clearTimeout(this.#poll);
    clearInterval(this.#heartbeat);
    this.#poll = undefined;
    this.#heartbeat = undefined;
    this.#seen = undefined;
  }

  #drop(client: EventClient): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#stop();
  }

  /** One look at the store: the devices that stored something, and a new alert. A store that fails is logged once until it answers again. */
  async #tick(baseline: boolean): Promise<void> {
    try {
      const reads = this.#reads();
      const rows = await this.#context.db.listDevices();
      const seen = new Map(rows.map((row) => [row.device, `${row.lastSeenMs ?? ""}/${row.lastWindowStart ?? ""}`]));
      const previous = this.#seen;
      this.#seen = seen;
      const newestAlert = await reads.newestAlert();
      const alerted = newestAlert > this.#newestAlert;
      this.#newestAlert = newestAlert;
      this.#failing = false;
      if (baseline || previous === undefined) return;
      const changed = rows.filter((row) => previous.get(row.device) !== seen.get(row.device));
      if (changed.length > 0) {
        const known = await knownDevices(this.#context);
        for (const row of changed) this.#broadcastEvent("node", await streetEntry(this.#context, reads, known.get(row.device) ?? row));
      }
      if (alerted) this.#broadcastEvent("alerts", { newest: newestAlert });
    } catch (error) {
      if (!this.#failing) this.#log("warn", "api-events-store-failed", { message: String((error as Error)?.message ?? error).slice(0, 200) });
      this.#failing = true;
    }
  }

  #broadcastEvent(event: string, data: unknown): void {
    this.#broadcast(frame(event, data));
  }

  #sendTo(client: EventClient, event: string, data: unknown): void {
    if (!client.send(frame(event, data))) this.#overflow(client);
  }

  #broadcast(text: string): void {
    for (const client of [...this.#clients]) if (!client.send(text)) this.#overflow(client);
  }

  /** A client that reads too slowly: closed, counted; its browser reconnects and starts over. */
  #overflow(client: EventClient): void {
    this.#log("warn", "api-events-client-dropped", { reason: `more than ${this.#maxQueued} events queued` });
    this.#clients.delete(client);
    client.response.destroy();
    if (this.#clients.size === 0) this.#stop();
  }
}

/** One event: JSON never holds a raw line break, so its data is one `data:` line. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
