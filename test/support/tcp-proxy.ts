/**
 * A TCP proxy on 127.0.0.1 for tests of network failures between a client and a real broker: it
 * forwards every connection to a target port that can change (a broker restarted elsewhere), and
 * on command goes silent (keeps the connections open but passes nothing on, as a dead route does)
 * or cuts every connection.
 */
import * as net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Where new connections go from now on. */
  setTarget(port: number): void;
  /** Stops passing bytes on in both directions; connections stay open. */
  silence(): void;
  /** Passes bytes on again, for connections accepted from now on. */
  unsilence(): void;
  /** Destroys every open connection. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let silent = false;
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: "127.0.0.1", port: target });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.on("data", (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!silent) client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    connections: () => accepted,
    setTarget: (next) => (target = next),
    silence: () => (silent = true),
    unsilence: () => (silent = false),
    cut,
    close: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
