/**
 * A TCP relay on 127.0.0.1 to a broker's port that can be shut: `shut()` ends the connections
 * through it and turns new ones away (closed at once, as a refused route), `open()` lets them
 * through again. It puts one client (the collector) behind the others in the order of reconnection
 * after a broker restart, whatever its own backoff.
 */
import * as net from "node:net";

export interface ConnectionGate {
  readonly url: string;
  /** Connections relayed so far. */
  connections(): number;
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

export async function startConnectionGate(brokerPort: number): Promise<ConnectionGate> {
  let shut = false;
  let relayed = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (shut) {
      client.destroy();
      return;
    }
    relayed++;
    const upstream = net.connect({ host: "127.0.0.1", port: brokerPort });
    open.add(client).add(upstream);
    const end = (): void => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connections: () => relayed,
    shut() {
      shut = true;
      for (const socket of [...open]) socket.destroy();
      open.clear();
    },
    open() {
      shut = false;
    },
    close() {
      for (const socket of [...open]) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
