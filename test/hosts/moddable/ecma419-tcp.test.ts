/** The test adapter itself: it must be as strict as the Moddable SDK's ECMA-419 TCP socket. */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";

import { Ecma419TcpSocket } from "../../support/ecma419-tcp.js";
import { waitFor } from "../../support/wait-for.js";
import { cleanups, listen, runCleanups } from "./device-mqtt-harness.js";

afterEach(runCleanups);

/** A server that hands each accepted socket to `onSocket`. */
async function server(onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onSocket(socket);
  });
  const port = await listen(srv, 0);
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return port;
}

describe("Ecma419TcpSocket (test adapter)", () => {
  it("signals the connection with onWritable, enforces the writable count and reports freed room", async () => {
    const received: Buffer[] = [];
    const port = await server((socket) => socket.on("data", (chunk) => received.push(chunk)));
    const events: string[] = [];
    const socket = new Ecma419TcpSocket({
      address: "127.0.0.1",
      port,
      writableBytes: 10,
      onWritable(count) {
        expect(this).toBe(socket);
        events.push(`writable ${count}`);
      },
    });
    cleanups.push(() => socket.close());
    expect(events).toEqual([]); // never from inside the constructor
    expect(() => socket.write(new Uint8Array(1))).toThrow("not ready");
    await waitFor(() => events.length === 1, "connected");
    expect(events).toEqual(["writable 10"]);
    expect(() => socket.write(new Uint8Array(11))).toThrow("would block");
    expect(socket.write(new Uint8Array([1, 2, 3, 4, 5, 6]))).toBe(4);
    expect(() => socket.write(new Uint8Array(5))).toThrow("would block");
    expect(socket.write(new Uint8Array([7, 8, 9, 10]))).toBe(0);
    expect(events).toHaveLength(1); // not from inside write
    await waitFor(() => events.at(-1) === "writable 10", "room freed");
    await waitFor(() => Buffer.concat(received).length === 10, "bytes at the server");
    expect([...Buffer.concat(received)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("reads only what is available, and reports a clean close by the peer only after it was read", async () => {
    const port = await server((socket) => socket.end(Buffer.from([1, 2, 3, 4, 5])));
    const events: string[] = [];
    const socket = new Ecma419TcpSocket({
      address: "127.0.0.1",
      port,
      onReadable: (count) => events.push(`readable ${count}`),
      onError: () => events.push("error"),
    });
    cleanups.push(() => socket.close());
    await waitFor(() => socket.bufferedForRead === 5 && events.includes("readable 5"), "data");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(["readable 5"]); // the close waits behind unread bytes
    expect(() => socket.read(new Uint8Array(6))).toThrow("invalid");
    const two = new Uint8Array(2);
    expect(socket.read(two)).toBe(2);
    expect([...two]).toEqual([1, 2]);
    expect(new Uint8Array(socket.read(3)!)).toEqual(new Uint8Array([3, 4, 5]));
    expect(socket.read(new Uint8Array(1))).toBeUndefined();
    await waitFor(() => events.includes("error"), "error after the last byte was read");
    expect(events).toEqual(["readable 5", "error"]);
    expect(socket.write(new Uint8Array(1))).toBeUndefined(); // ignored once failed
  });

  it("reports a refused connection through onError only, and nothing after close()", async () => {
    const probe = net.createServer();
    const port = await listen(probe, 0);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const events: string[] = [];
    const refused = new Ecma419TcpSocket({ address: "127.0.0.1", port, onWritable: () => events.push("writable"), onError: () => events.push("error") });
    await waitFor(() => events.length === 1, "error");
    expect(events).toEqual(["error"]);
    refused.close();
    expect(() => refused.read()).toThrow("closed");

    const live = await server((socket) => socket.write(Buffer.from([1])));
    const quiet: string[] = [];
    const closed = new Ecma419TcpSocket({ address: "127.0.0.1", port: live, onWritable: () => quiet.push("writable"), onReadable: () => quiet.push("readable") });
    closed.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(quiet).toEqual([]);
  });
});
