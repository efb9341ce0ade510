/**
 * Store-and-forward for sealed messages: a bounded FIFO that survives broker outages.
 *
 * Messages leave in order over QoS 1 and stay queued until the broker acknowledges them; when the
 * connection drops, unacknowledged ones are sent again after reconnect (the collector drops the
 * duplicates by their counter). When the queue is full the oldest message is dropped and counted,
 * because a node must keep working with bounded memory and newer windows are worth more.
 */
import type { Transport } from "../platform.js";

interface OutboxEntry {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  inFlight: boolean;
}

export interface OutboxStats {
  /** Messages queued since boot. */
  queued: number;
  /** Messages the broker acknowledged. */
  delivered: number;
  /** Oldest messages dropped because the queue was full. */
  dropped: number;
  /** Sends that ended without acknowledgement and were retried. */
  retried: number;
}

export class Outbox {
  readonly #transport: Transport;
  readonly #capacity: number;
  readonly #maxInFlight: number;
  readonly #entries: OutboxEntry[] = [];
  #inFlight = 0;
  readonly stats: OutboxStats = { queued: 0, delivered: 0, dropped: 0, retried: 0 };

  constructor(transport: Transport, capacity: number, maxInFlight: number) {
    this.#transport = transport;
    this.#capacity = capacity;
    this.#maxInFlight = maxInFlight;
  }

  get depth(): number {
    return this.#entries.length;
  }

  /** Queues a message and tries to send. `payload` must not be changed afterwards. */
  push(topic: string, payload: Uint8Array, retain = false): void {
    if (this.#entries.length >= this.#capacity) {
      const oldest = this.#entries.shift()!;
      if (oldest.inFlight) this.#inFlight--;
      this.stats.dropped++;
    }
    this.#entries.push({ topic, payload, retain, inFlight: false });
    this.stats.queued++;
    this.pump();
  }

  /** Sends queued messages while the transport takes them. Call on reconnect. */
  pump(): void {
    for (const entry of this.#entries) {
      if (this.#inFlight >= this.#maxInFlight || !this.#transport.connected) return;
      if (entry.inFlight) continue;
      const accepted = this.#transport.publish(entry.topic, entry.payload, { qos: 1, retain: entry.retain }, (delivered) => this.#settle(entry, delivered));
      if (!accepted) return;
      entry.inFlight = true;
      this.#inFlight++;
    }
  }

  #settle(entry: OutboxEntry, delivered: boolean): void {
    const index = this.#entries.indexOf(entry);
    if (index < 0) return; // dropped for space while in flight; already counted
    entry.inFlight = false;
    this.#inFlight--;
    if (delivered) {
      this.#entries.splice(index, 1);
      this.stats.delivered++;
      this.pump();
    } else {
      this.stats.retried++;
    }
  }
}
