/**
 * Acknowledging a received QoS 1 message after mqtt.js has moved on to the next one, so that
 * several messages can arrive before the first is stored, and each PUBACK is sent once its message
 * is stored.
 *
 * mqtt.js 5 (build/lib/handlers/publish.js) sends a QoS 1 message's PUBACK when `handleMessage`
 * calls back, and parses the next packet only then (client.js, `work` and `nextTickWork`): one
 * message at a time. Its other hooks do not help: `customHandleAcks` (MQTT 5 only) runs before
 * `handleMessage` and blocks the same way, and a PUBACK with an error reason code would still tell
 * the broker to forget the message (MQTT 5 §4.3.2). What it does offer, undocumented: a callback
 * given an error sends no PUBACK and goes on to the next packet. `passOnWithoutPuback` relies on
 * that, and nothing else here touches mqtt.js's inner workings; test/hosts/collector/
 * deferred-puback.test.ts watches the wire of both protocol versions and fails if a new mqtt.js
 * changes it.
 *
 * The PUBACK itself is written with mqtt-packet (mqtt.js's own encoder) on the client's public
 * `stream`, and only on the connection the message came on: mqtt.js makes a new stream for every
 * connection, and packet identifiers are per connection, so an acknowledgement that outlived its
 * connection is dropped rather than queued for the next one (mqtt.js's own `_sendPacket` would
 * queue it, and it could then acknowledge another message under the same identifier). The broker
 * delivers the message again on the next connection of the session (MQTT 3.1.1 §4.4, MQTT 5 §4.4).
 */
import type { MqttClient } from "mqtt";
import { writeToStream } from "mqtt-packet";

/** The callback mqtt.js gives `handleMessage`. */
export type PassOn = (error?: Error) => void;

/** One connection of a client: the stream mqtt.js made for it. */
export type Connection = MqttClient["stream"];

/** Never thrown nor logged: mqtt.js only checks that it is there. */
const DEFERRED = new Error("PUBACK deferred until the message is stored");

/** Lets mqtt.js hand over the next message without acknowledging this one. */
export function passOnWithoutPuback(done: PassOn): void {
  done(DEFERRED);
}

/** The connection `client` is on now (its messages are acknowledged on it or not at all). */
export function connectionOf(client: MqttClient): Connection {
  return client.stream;
}

/**
 * Writes the PUBACK of `messageId` if `connection` is still the client's open connection; false
 * (nothing written) when it is gone, and the broker will deliver the message again.
 */
export function sendPuback(client: MqttClient, connection: Connection, messageId: number, protocolVersion: 4 | 5): boolean {
  if (!client.connected || client.stream !== connection || connection.destroyed || !connection.writable) return false;
  // MQTT 5 §3.4.2.1: reason code 0, success. 3.1.1 has none.
  const packet = protocolVersion === 5 ? { cmd: "puback" as const, messageId, reasonCode: 0 } : { cmd: "puback" as const, messageId };
  writeToStream(packet, connection as unknown as Parameters<typeof writeToStream>[1], { protocolVersion });
  return true;
}
