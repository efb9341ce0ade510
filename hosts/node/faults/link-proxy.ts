/**
 * The street's uplink in the fault campaign: a TCP relay on 127.0.0.1 between the nodes and the
 * broker that can go down (every connection cut, new ones refused at once, as a dead cellular link
 * or a broker behind a failed router looks to a node) and come back. The collector does not go
 * through it: an outage of the street's link is not an outage of the city's network.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export class LinkProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ readonly client: Socket; readonly upstream: Socket }>();
  #targetPort: number;
  #up = true;
  /** Connections refused or cut while down. */
  refused = 0;

  private constructor(server: Server, targetPort: number) {
    this.#server = server;
    this.#targetPort = targetPort;
  }

  /** A relay to the broker on 127.0.0.1:`targetPort`, listening on a free port. */
  static async start(targetPort: number): Promise<LinkProxy> {
    const server = createServer();
    const proxy = new LinkProxy(server, targetPort);
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.#up;
  }

  /** Where connections go from now on (a broker restarted on another port). */
  retarget(port: number): void {
    this.#targetPort = port;
  }

  /** The link fails: every connection is cut, and new ones are refused until `up()`. */
  down(): void {
    this.#up = false;
    for (const { client, upstream } of [...this.#pairs]) {
      client.destroy();
      upstream.destroy();
      this.refused++;
    }
    this.#pairs.clear();
  }

  up(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (!this.#up) {
      this.refused++;
      client.destroy();
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port: this.#targetPort });
    const pair = { client, upstream };
    this.#pairs.add(pair);
    const end = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
