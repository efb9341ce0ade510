/**
 * A small driver for `xsnap-worker`, the XS engine that `@agoric/xsnap` compiles on install.
 *
 * The worker reads netstrings on fd 3 and writes netstrings on fd 4. A message's first byte says
 * what it is:
 *   to the worker:   `e<script>` evaluate a script; `?<bytes>` call the global handleCommand(bytes);
 *                    `/<bytes>` the answer to a query; `q` quit
 *   from the worker: `.<meter>\x01<bytes>` done (meter JSON: compute, allocate, currentHeapCount);
 *                    `!<text>` an uncaught exception; `?<bytes>` a query from the global
 *                    issueCommand(bytes), which blocks the worker until we answer with `/<bytes>`
 * Commands are strictly sequential, so this driver queues them. Queries are answered synchronously
 * by `onQuery`, which is how the platform calls of code running in XS reach Node.
 *
 * It deliberately does not use the package's own Node API, which expects an SES-locked-down host.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { NetstringReader, encodeNetstring } from "./netstring.js";

/** What the XS meter says about one command (one "crank"). */
export interface XsMeter {
  /** Computrons: XS's deterministic count of work done during the crank. */
  readonly compute: number;
  /** Bytes of memory the engine has allocated from the system (slot heap + chunk heap). */
  readonly allocate: number;
  /** Slots in use on the engine's heap, as of its last garbage collection. */
  readonly currentHeapCount: number;
}

export interface XsResult {
  readonly reply: Uint8Array;
  readonly meter: XsMeter;
}

export class XsnapError extends Error {
  override name = "XsnapError";
}

export interface XsnapWorkerOptions {
  /** Answers the worker's issueCommand() queries; runs synchronously while the worker waits. */
  readonly onQuery?: (query: Uint8Array) => Uint8Array;
  /** Receives what the worker prints (its `print()` goes to stdout). */
  readonly onOutput?: (text: string) => void;
  /** Name shown in `ps` and in errors. */
  readonly name?: string;
}

/** Path of the xsnap-worker binary built by `npm ci`; throws a clear error when it is missing. */
export function xsnapWorkerPath(): string {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve("@agoric/xsnap/package.json"));
  const platform = process.platform === "linux" ? "lin" : process.platform === "darwin" ? "mac" : undefined;
  if (!platform) throw new XsnapError(`xsnap-worker is not built for ${process.platform}`);
  const binary = join(packageDir, "xsnap-native", "xsnap", "build", "bin", platform, "release", "xsnap-worker");
  if (!existsSync(binary)) {
    throw new XsnapError(`xsnap-worker is missing at ${binary}: npm ci should have built it (the @agoric/xsnap postinstall step); see its output`);
  }
  return binary;
}

type Pending = { resolve: (result: XsResult) => void; reject: (error: Error) => void };

export class XsnapWorker {
  readonly #process: ChildProcessByStdio<null, Readable, Readable>;
  readonly #toWorker: Writable;
  readonly #onQuery: (query: Uint8Array) => Uint8Array;
  readonly #name: string;
  /** Commands not yet sent: the worker takes one at a time. */
  readonly #queue: Array<{ message: Uint8Array } & Pending> = [];
  #current: Pending | undefined;
  #exited: Error | undefined;
  #stderr = "";

  constructor(options: XsnapWorkerOptions = {}) {
    this.#onQuery = options.onQuery ?? (() => new Uint8Array(0));
    this.#name = options.name ?? "civicnode-xs";
    // fds: 0 stdin, 1 stdout (print), 2 stderr, 3 commands to the worker, 4 replies from it
    this.#process = spawn(xsnapWorkerPath(), [this.#name], { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] }) as unknown as ChildProcessByStdio<
      null,
      Readable,
      Readable
    >;
    const stdio = this.#process.stdio as unknown as [null, Readable, Readable, Writable, Readable];
    this.#toWorker = stdio[3];
    this.#toWorker.on("error", () => {}); // reported through the exit handler
    const reader = new NetstringReader((message) => this.#onMessage(message));
    stdio[4].on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        this.#fail(new XsnapError(`${this.#name}: protocol error: ${(error as Error).message}`));
        this.#process.kill("SIGKILL");
      }
    });
    stdio[1].setEncoding("utf8");
    stdio[1].on("data", (text: string) => options.onOutput?.(text));
    stdio[2].setEncoding("utf8");
    stdio[2].on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-4000);
    });
    this.#process.on("exit", (code, signal) => {
      const detail = this.#stderr.trim() ? `: ${this.#stderr.trim()}` : "";
      this.#fail(new XsnapError(`${this.#name} exited (${signal ?? `code ${code}`})${detail}`));
    });
    this.#process.on("error", (error) => this.#fail(new XsnapError(`${this.#name}: ${error.message}`)));
  }

  /** Evaluates a script (e.g. a bundle that defines globalThis.handleCommand). */
  evaluate(script: string): Promise<XsResult> {
    return this.#send(Buffer.concat([Buffer.from("e"), Buffer.from(script, "utf8")]));
  }

  /** Calls the worker's global handleCommand(bytes); resolves with its reply and the crank's meter. */
  command(bytes: Uint8Array): Promise<XsResult> {
    return this.#send(Buffer.concat([Buffer.from("?"), bytes]));
  }

  /** Number of commands waiting or running. */
  get busy(): number {
    return this.#queue.length + (this.#current ? 1 : 0);
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#process.once("exit", () => resolve()));
    try {
      this.#toWorker.write(encodeNetstring(Buffer.from("q")));
      this.#toWorker.end();
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.#process.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  #send(message: Uint8Array): Promise<XsResult> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise<XsResult>((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#current || this.#queue.length === 0 || this.#exited) return;
    const { message, resolve, reject } = this.#queue.shift()!;
    this.#current = { resolve, reject };
    this.#toWorker.write(encodeNetstring(message));
  }

  #onMessage(message: Uint8Array): void {
    const kind = message[0];
    if (kind === 0x3f /* ? */) {
      let answer: Uint8Array;
      try {
        answer = this.#onQuery(message.subarray(1));
      } catch (error) {
        // The worker is blocked waiting; an empty answer lets it fail cleanly on its side.
        answer = new Uint8Array(0);
        this.#stderr += `query handler failed: ${(error as Error).message}\n`;
      }
      this.#toWorker.write(encodeNetstring(Buffer.concat([Buffer.from("/"), answer])));
      return;
    }
    const current = this.#current;
    this.#current = undefined;
    if (!current) {
      this.#fail(new XsnapError(`${this.#name}: reply without a command`));
      return;
    }
    if (kind === 0x2e /* . */) {
      const separator = message.indexOf(1, 1);
      const meter = separator > 0 ? parseMeter(message.subarray(1, separator)) : { compute: 0, allocate: 0, currentHeapCount: 0 };
      current.resolve({ reply: message.slice(separator > 0 ? separator + 1 : 1), meter });
    } else if (kind === 0x21 /* ! */) {
      current.reject(new XsnapError(`uncaught exception in ${this.#name}: ${Buffer.from(message.subarray(1)).toString("utf8")}`));
    } else {
      current.reject(new XsnapError(`${this.#name}: unknown reply kind ${String.fromCharCode(kind ?? 0)}`));
    }
    this.#next();
  }

  #fail(error: Error): void {
    if (this.#exited) return;
    this.#exited = error;
    this.#current?.reject(error);
    this.#current = undefined;
    for (const waiting of this.#queue.splice(0)) waiting.reject(error);
  }
}

function parseMeter(bytes: Uint8Array): XsMeter {
  const meter = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<XsMeter>;
  return { compute: meter.compute ?? 0, allocate: meter.allocate ?? 0, currentHeapCount: meter.currentHeapCount ?? 0 };
}
