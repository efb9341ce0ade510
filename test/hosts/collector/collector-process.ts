/**
 * The built collector as an operator runs it (`node dist/hosts/collector/main.js`, what
 * `npm run collector` starts), as a child process of the test: started, waited for until it says
 * it has subscribed, killed with SIGKILL (a crash, a power cut) or stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Keyring } from "../../../hosts/collector/keyring.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { cleanups } from "../../support/mqtt-test-brokers.js";
import { waitFor } from "../../support/wait-for.js";

/** What the collector prints on stderr once its subscriptions are in place (its `collector-subscribed` event). */
const SUBSCRIBED = /collector: subscribed|collector-subscribed/g;
/** Kept of each stream: enough for the last events and the exit summary, bounded for a long run. */
const KEPT_CHARS = 256 * 1024;

export class CollectorProcess {
  readonly name: string;
  readonly args: readonly string[];
  #child: ChildProcess | undefined;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  #stdout = "";
  #stderr = "";
  /** Subscribed lines seen, over every run of this collector. */
  #subscriptions = 0;
  /** Runs (starts) so far. */
  #runs = 0;

  constructor(name: string, args: readonly string[]) {
    this.name = name;
    this.args = args;
  }

  /** Starts the collector; resolves once it has subscribed (within `timeoutMs`), rejects with its output if it exits first. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const before = this.#subscriptions;
    const child = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/collector/main.js", ...this.args], { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    this.#runs++;
    this.#stderr += `\n--- ${this.name} run ${this.#runs} ---\n`;
    child.stdout!.on("data", (chunk: Buffer) => (this.#stdout = (this.#stdout + chunk.toString()).slice(-KEPT_CHARS)));
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      this.#subscriptions += text.match(SUBSCRIBED)?.length ?? 0;
      this.#stderr = (this.#stderr + text).slice(-KEPT_CHARS);
    });
    this.#exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    await waitFor(() => this.#subscriptions > before || child.exitCode !== null || child.signalCode !== null, `${this.name} to subscribe`, timeoutMs, 20).catch((error) => {
      throw new Error(`${(error as Error).message}\n${this.stderr}`);
    });
    if (this.#subscriptions === before) throw new Error(`${this.name} exited before subscribing (code ${child.exitCode}, signal ${child.signalCode}):\n${this.stderr}`);
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Times it has said it subscribed (a reconnection subscribes again), over all its runs. */
  get subscriptions(): number {
    return this.#subscriptions;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** How the current (or last) run ended; undefined while it runs. */
  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined {
    return this.#exit;
  }

  /** SIGKILL: no chance to store, acknowledge or say goodbye. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child!.kill("SIGKILL");
    await this.#exit;
  }

  /** SIGTERM, as an operator stops it; resolves with its exit code (escalates to SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) return (await this.#exit)?.code ?? null;
    const child = this.#child!;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const { code } = await this.#exit!;
    clearTimeout(timer);
    return code;
  }

  /** Lines of stderr naming `event` (the collector logs `<level> <event> <detail>`). */
  logged(event: string): string[] {
    return this.#stderr.split("\n").filter((line) => line.includes(event));
  }
}

/** A state folder holding `keyring` (keyring.sealed, under its local passphrase), removed after the test. */
export function stateFolderWith(keyring: Keyring): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-collector-state-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  keyring.save(dir, localPassphrase(dir));
  return dir;
}

export interface CollectorSetup {
  readonly brokerUrl: string;
  readonly stateDir: string;
  readonly clientId: string;
  /** --db: a postgres:// URL or an SQLite path; absent: the default, <state>/collector.db. */
  readonly db?: string;
  readonly group?: string;
}

/** `npm run collector -- --broker ... --state ... --client-id ... --http off [--db ...] [--group ...]`, killed after the test. */
export function collectorProcess(setup: CollectorSetup): CollectorProcess {
  const collector = new CollectorProcess(setup.clientId, [
    ...["--broker", setup.brokerUrl, "--state", setup.stateDir, "--client-id", setup.clientId, "--http", "off"],
    ...(setup.db !== undefined ? ["--db", setup.db] : []),
    ...(setup.group !== undefined ? ["--group", setup.group] : []),
  ]);
  cleanups.push(() => collector.kill());
  return collector;
}
