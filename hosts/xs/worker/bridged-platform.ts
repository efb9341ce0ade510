/**
 * Platform services for a node running in XS, reached over the worker's synchronous
 * `issueCommand` pipe to the Node host: the store (the node's flash file), CSPRNG bytes, the MQTT
 * transport and the log. Clock, timers and buses stay inside XS (the simulated board and the
 * virtual clock are portable), so the host only has to say how far time has moved.
 *
 * Host -> XS events (acknowledgements, connection changes, incoming messages) arrive as commands
 * and are passed to `BridgedTransport`'s `settle`, `setConnected` and `deliver`.
 */
import type { KeyValueStore, Log, LogDetail, LogLevel, PublishOptions, PublishSettled, Random, StoreWrite, Transport } from "../../../src/platform.js";
import { assertStoreWrite } from "../../../src/store-contract.js";
import { decodeBridge, encodeBridge, toArrayBuffer, type BridgeValue } from "../bridge-codec.js";

/** Sends a query to the host and returns its decoded answer. */
export function queryHost(values: readonly BridgeValue[]): BridgeValue[] {
  const answer = new Uint8Array(issueCommand(toArrayBuffer(encodeBridge(values))));
  if (answer.length === 0) throw new Error(`host did not answer ${String(values[0])}`);
  const decoded = decodeBridge(answer);
  if (decoded[0] === "error") throw new Error(`host: ${String(decoded[1])}`);
  return decoded;
}

export class BridgedStore implements KeyValueStore {
  get(key: string): Uint8Array | undefined {
    const [, value] = queryHost(["store.get", key]);
    return value instanceof Uint8Array ? value : undefined;
  }

  keys(prefix: string): string[] {
    const [, keys] = queryHost(["store.keys", prefix]);
    if (!Array.isArray(keys)) throw new Error("host sent no key list");
    return keys.map(String);
  }

  commit(writes: readonly StoreWrite[]): void {
    // The device's flash limits hold here too, checked in XS before anything crosses the bridge.
    for (const write of writes) assertStoreWrite(write);
    queryHost(["store.commit", writes.map(({ key, value }) => [key, value ?? null])]);
  }
}

export class BridgedRandom implements Random {
  fill(target: Uint8Array): void {
    const [, bytes] = queryHost(["random", target.length]);
    if (!(bytes instanceof Uint8Array) || bytes.length !== target.length) throw new Error("host sent the wrong number of random bytes");
    target.set(bytes);
    bytes.fill(0);
  }
}

export class BridgedTransport implements Transport {
  readonly #settlers = new Map<number, PublishSettled>();
  readonly #subscriptions = new Map<string, (topic: string, payload: Uint8Array) => void>();
  #listener: ((connected: boolean) => void) | undefined;
  #connected = false;
  #nextId = 1;

  get connected(): boolean {
    return this.#connected;
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean {
    if (!this.#connected) return false;
    const id = this.#nextId++;
    const [, accepted] = queryHost(["publish", id, topic, payload, options.qos, options.retain ?? false]);
    if (accepted !== true) return false;
    this.#settlers.set(id, onSettled);
    return true;
  }

  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void {
    this.#subscriptions.set(topicFilter, onMessage);
    queryHost(["subscribe", topicFilter]);
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#listener = listener;
  }

  /** The host's transport settled publish `id`. */
  settle(id: number, delivered: boolean): void {
    const settle = this.#settlers.get(id);
    this.#settlers.delete(id);
    settle?.(delivered);
  }

  setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    this.#listener?.(connected);
  }

  /** A message arrived on `filter`, a filter this side subscribed to. */
  deliver(filter: string, topic: string, payload: Uint8Array): void {
    this.#subscriptions.get(filter)?.(topic, payload);
  }
}

/** A log that hands each line to the host, where it joins the simulator's log file. */
export function bridgedLog(): Log {
  return (level: LogLevel, event: string, detail?: LogDetail) => {
    queryHost(["log", level, event, detail ? JSON.stringify(detail) : null]);
  };
}
