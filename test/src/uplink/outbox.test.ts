import { describe, expect, it } from "vitest";
import { Outbox } from "../../../src/uplink/outbox.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";

const bytes = (n: number) => Uint8Array.of(n);

describe("Outbox", () => {
  it("keeps messages until acknowledged and resends the unacknowledged after a reconnect", () => {
    const transport = new LoopbackTransport();
    transport.autoAcknowledge = false;
    const outbox = new Outbox(transport, 10, 2);
    outbox.push("t", bytes(1));
    outbox.push("t", bytes(2));
    outbox.push("t", bytes(3));
    expect(transport.published.map((m) => m.payload[0])).toEqual([1, 2]); // two in flight at most
    transport.setConnected(false); // both settle undelivered
    expect(outbox.depth).toBe(3);
    expect(outbox.stats.retried).toBe(2);
    transport.autoAcknowledge = true;
    transport.setConnected(true);
    outbox.pump();
    expect(transport.published.map((m) => m.payload[0])).toEqual([1, 2, 1, 2, 3]);
    expect(outbox.depth).toBe(0);
    expect(outbox.stats.delivered).toBe(3);
  });

  it("drops the oldest when full, counts the drop, and never grows past its capacity", () => {
    const transport = new LoopbackTransport(false);
    const outbox = new Outbox(transport, 3, 1);
    for (let i = 1; i <= 5; i++) outbox.push("t", bytes(i));
    expect(outbox.depth).toBe(3);
    expect(outbox.stats.dropped).toBe(2);
    transport.setConnected(true);
    outbox.pump();
    expect(transport.published.map((m) => m.payload[0])).toEqual([3, 4, 5]);
  });

  it("ignores the late acknowledgement of a message dropped while in flight", () => {
    const transport = new LoopbackTransport();
    transport.autoAcknowledge = false;
    const outbox = new Outbox(transport, 2, 1);
    outbox.push("t", bytes(1)); // in flight
    outbox.push("t", bytes(2));
    outbox.push("t", bytes(3)); // drops 1 while in flight
    expect(outbox.stats.dropped).toBe(1);
    expect(transport.published.map((m) => m.payload[0])).toEqual([1, 2]); // 2 took the freed slot
    transport.acknowledgeAll(); // the acks of 1 (dropped: ignored) and of 2 arrive
    expect(outbox.stats.delivered).toBe(1);
    expect(outbox.depth).toBe(1);
    expect(transport.published.map((m) => m.payload[0])).toEqual([1, 2, 3]);
  });
});
