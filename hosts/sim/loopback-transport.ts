/**
 * A transport with no network behind it, for deterministic scenarios (tests, the XS lane): it
 * records every publish and acknowledges it at once, or holds acknowledgements, or drops the
 * connection, on command. The end-to-end tests use a real broker over TCP instead.
 */
import type { PublishOptions, PublishSettled, Transport } from "../../src/platform.js";

export interface LoopbackMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

export class LoopbackTransport implements Transport {
  /** Every message accepted, in order (copies), unless constructed with `keep` false. */
  readonly published: LoopbackMessage[] = [];
  /** Messages and payload bytes accepted, also when they are not kept (long runs). */
  messageCount = 0;
  payloadBytes = 0;
  /** Size of the latest message accepted. */
  lastPayloadBytes = 0;
  /** When false, acknowledgements wait for `acknowledgeAll()`. */
  autoAcknowledge = true;
  readonly #keep: boolean;
  #connected: boolean;
  #listener: ((connected: boolean) => void) | undefined;
  readonly #pending: PublishSettled[] = [];
  readonly #subscriptions: Array<{ filter: string; onMessage: (topic: string, payload: Uint8Array) => void }> = [];

  /** `keep`: record every message in `published`; false only counts them, so memory stays flat. */
  constructor(connected = true, keep = true) {
    this.#connected = connected;
    this.#keep = keep;
  }

  get connected(): boolean {
    return this.#connected;
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean {
    if (!this.#connected) return false;
    this.messageCount++;
    this.payloadBytes += payload.length;
    this.lastPayloadBytes = payload.length;
    if (this.#keep) this.published.push({ topic, payload: payload.slice(), qos: options.qos, retain: options.retain ?? false });
    if (this.autoAcknowledge) onSettled(true);
    else this.#pending.push(onSettled);
    return true;
  }

  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void {
    this.#subscriptions.push({ filter: topicFilter, onMessage });
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#listener = listener;
  }

  /** Delivers a message to the subscriber whose filter equals `topic` exactly (no wildcards here). */
  deliver(topic: string, payload: Uint8Array): void {
    for (const subscription of this.#subscriptions) if (subscription.filter === topic) subscription.onMessage(topic, payload);
  }

  acknowledgeAll(): void {
    for (const settle of this.#pending.splice(0)) settle(true);
  }

  /** Drops or restores the connection; unacknowledged messages settle as undelivered. */
  setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    if (!connected) for (const settle of this.#pending.splice(0)) settle(false);
    this.#listener?.(connected);
  }
}
