/**
 * Publishes the benchmark's backlog to the broker: every message at QoS 1, many in flight at once,
 * resolved once the broker has acknowledged them all (so it holds them, queued for the sessions
 * that subscribed).
 */
import { connect, type MqttClient } from "mqtt";

/** PUBLISHes awaiting their PUBACK at once: enough to keep the loopback link busy, bounded in memory. */
const IN_FLIGHT = 1000;

export async function publishBacklog(brokerUrl: string, messages: ReadonlyArray<{ readonly topic: string; readonly payload: Uint8Array }>): Promise<void> {
  const client: MqttClient = await new Promise((resolve, reject) => {
    const c = connect(brokerUrl, { clientId: `civicnode-bench-publisher-${process.pid}`, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let acknowledged = 0;
      const sendMore = () => {
        while (next < messages.length && next - acknowledged < IN_FLIGHT) {
          const { topic, payload } = messages[next++]!;
          client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (error) => {
            if (error) return reject(error);
            if (++acknowledged === messages.length) resolve();
            else sendMore();
          });
        }
      };
      if (messages.length === 0) resolve();
      else sendMore();
    });
  } finally {
    await client.endAsync();
  }
}
