/**
 * A real aedes broker behind a TLS listener (`tls.createServer`) on 127.0.0.1, presenting the given
 * certificate, for the TLS tests of the node's transport and of the collector.
 */
import * as tls from "node:tls";
import type { AddressInfo, Socket } from "node:net";
import { Aedes } from "aedes";
import type { TestCertificate } from "./test-pki.js";

export interface TlsTestBroker {
  readonly broker: Aedes;
  readonly port: number;
  /** TCP connections accepted. */
  tcpConnections(): number;
  /** Connections whose TLS handshake completed. */
  secureConnections(): number;
  /** CONNECT packets the broker received (all of them decrypted: there is only TLS here). */
  connectPackets(): number;
  /** Why handshakes failed, as the server saw it (`tlsClientError` codes). */
  readonly handshakeErrors: string[];
  stop(): Promise<void>;
}

/** `port` 0 picks a free one; a given port lets a test replace one broker by another. */
export async function startTlsBroker(certificate: TestCertificate, port = 0): Promise<TlsTestBroker> {
  let connects = 0;
  const broker = await Aedes.createBroker({
    preConnect: (_client, _packet, callback) => {
      connects++;
      callback(null, true);
    },
  });
  let tcp = 0;
  let secure = 0;
  const handshakeErrors: string[] = [];
  const sockets = new Set<Socket>();
  const server = tls.createServer({ cert: certificate.cert, key: certificate.key, minVersion: "TLSv1.2" }, (socket) => {
    secure++;
    broker.handle(socket);
  });
  server.on("connection", (socket) => {
    tcp++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", (error: NodeJS.ErrnoException) => handshakeErrors.push(error.code ?? error.message));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  let stopped = false;
  return {
    broker,
    port: (server.address() as AddressInfo).port,
    tcpConnections: () => tcp,
    secureConnections: () => secure,
    connectPackets: () => connects,
    handshakeErrors,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
