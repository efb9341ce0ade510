/**
 * `npm run cmd -- ... --wait`: what the node made of a command, read from its health reports as
 * the collector's database stores them. A node answers no command directly; it audits each one
 * (src/uplink/command-receiver.ts) and its next health report carries the entries:
 *
 *   command-accepted <name>               a command taken
 *   command-refused <outcome> <name>      an authentic command its policy's bounds refuse, or that failed
 *   policy-updated serial <n>[ two keys]  update-policy taken (the node restarts on it)
 *   policy-refused [serial <n>] <reason>  update-policy refused
 *   policy-incomplete <digest> <k>/<n> <why>
 *   refusals <cause> <count> <first> <last>   refusals anyone on the broker can cause (stale,
 *                                         replay, authentication, ...), tallied per report
 *
 * The watch remembers the reports stored before the command was sent; the first of the reports
 * stored after it that holds an entry for the command's name (or, for an update, its serial) has
 * the verdict. A tally of refusals with no such entry is the verdict too, as "probably": anyone
 * can cause refusals, but a command that authenticates under the node's key is never tallied.
 * Entries name the command, not its counter: a second command of the same name, sent to the same
 * node within the same health interval by someone else, cannot be told from this one.
 *
 * Two reports after the command without a word of it mean the node has not received it: the
 * first may have been on its way when the command was sent, the second was sealed after it.
 */
import { parseRefusalDetail, REFUSALS_EVENT } from "../../src/policy/audit-refusals.js";
import { MAX_PAGE, type CollectorDb, type StoredHealth } from "./db/collector-db.js";

/** How far back the watch reads a node's reports: a day, the most a node's clock and the tool's may differ. */
const LOOKBACK_S = 86_400;
/** The newest reports whose spacing gives the node's health interval (a gap only widens a spacing). */
const SPACINGS = 8;

/** What the watch waits for: a command of this name, or (update-policy) the update to this serial. */
export type AwaitedCommand = { readonly name: string } | { readonly update: number };

export interface CommandVerdict {
  /** accepted; refused (by the node, `outcome` says why); not-received (two reports say nothing of it). */
  readonly kind: "accepted" | "refused" | "not-received";
  /** The node's outcome (command-receiver.ts' CommandOutcome: accepted, bounds, stale, ...), or "not-received". */
  readonly outcome: string;
  /** In plain words, for the console. */
  readonly reason: string;
  /** The report that says so (the second one, for not-received). */
  readonly report: StoredHealth;
  /** Its audit entries, "event detail". */
  readonly entries: readonly string[];
  /** True when only a tally of refusals speaks for it (see the header). */
  readonly probable: boolean;
}

/** What each refusal means to whoever sent the command. */
const REASONS: Readonly<Record<string, string>> = {
  bounds: "outside what its signed policy allows",
  failed: "it failed on the node",
  stale: "issued more than a day away from the node's clock",
  replay: "its counter was used before (is downlink.json older than what the node has seen?)",
  authentication: "it does not authenticate under the node's downlink key (the keyring's key is not the node's)",
  kid: "it names another device's key",
  malformed: "the node cannot read it",
  oversized: "too large for the node",
};

export class CommandOutcomeWatch {
  readonly #db: CollectorDb;
  readonly #device: string;
  readonly #from: number;
  readonly #seen: Set<string>;
  /** The node's health interval from its stored reports (seconds of its clock); undefined with fewer than two. */
  readonly healthSeconds: number | undefined;
  #silent: StoredHealth[] = [];

  private constructor(db: CollectorDb, device: string, from: number, stored: readonly StoredHealth[]) {
    this.#db = db;
    this.#device = device;
    this.#from = from;
    this.#seen = new Set(stored.map(key));
    const times = stored.slice(-SPACINGS - 1).map((report) => report.time);
    const spacings = times.slice(1).map((time, i) => time - times[i]!).filter((spacing) => spacing > 0);
    this.healthSeconds = spacings.length > 0 ? Math.min(...spacings) : undefined;
  }

  /** Call before the command is sent: notes the reports already stored. `nodeNowS`: the node's time now, as the tool reckons it. */
  static async begin(db: CollectorDb, device: string, nodeNowS: number): Promise<CommandOutcomeWatch> {
    const from = Math.max(0, Math.floor(nodeNowS) - LOOKBACK_S);
    return new CommandOutcomeWatch(db, device, from, await reportsOf(db, device, from));
  }

  /** The verdict, once a report stored since `begin` gives it; undefined until then. */
  async poll(awaited: AwaitedCommand): Promise<CommandVerdict | undefined> {
    for (const report of await reportsOf(this.#db, this.#device, this.#from)) {
      if (this.#seen.has(key(report))) continue;
      this.#seen.add(key(report));
      const verdict = verdictIn(report, awaited);
      if (verdict) return verdict;
      this.#silent.push(report);
      if (this.#silent.length >= 2) {
        const times = this.#silent.map((r) => isoMinute(r.time)).join(" and ");
        return { kind: "not-received", outcome: "not-received", reason: `its health reports of ${times} say nothing of it: the node has not received it`, report, entries: entries(report), probable: false };
      }
    }
    return undefined;
  }
}

/** Every stored report of `device` from `from` (Unix s of the node's clock) on, oldest first. */
async function reportsOf(db: CollectorDb, device: string, from: number): Promise<StoredHealth[]> {
  const reports: StoredHealth[] = [];
  let cursor: string | undefined;
  do {
    const page = await db.health(device, { from, limit: MAX_PAGE, ...(cursor === undefined ? {} : { cursor }) });
    reports.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return reports;
}

function verdictIn(report: StoredHealth, awaited: AwaitedCommand): CommandVerdict | undefined {
  const lines = entries(report);
  const found = (kind: "accepted" | "refused", outcome: string, reason: string, probable = false): CommandVerdict => ({ kind, outcome, reason, report, entries: lines, probable });
  for (const line of lines) {
    const [event, ...words] = line.split(" ");
    if ("name" in awaited) {
      if (event === "command-accepted" && words[0] === awaited.name) return found("accepted", "accepted", "accepted");
      if (event === "command-refused" && words[1] === awaited.name) return found("refused", words[0]!, REASONS[words[0]!] ?? words[0]!);
    } else {
      const serial = words[0] === "serial" ? Number(words[1]) : undefined;
      if (event === "policy-updated" && serial === awaited.update) return found("accepted", "accepted", `accepted: it runs serial ${serial} from now on`);
      if (event === "policy-refused" && (serial === undefined || serial === awaited.update)) return found("refused", "bounds", words.slice(serial === undefined ? 0 : 2).join(" "));
      if (event === "policy-incomplete") return found("refused", "incomplete", `the update did not arrive whole (${words.slice(1).join(" ")})`);
    }
  }
  const tallied = lines.filter((line) => line.startsWith(`${REFUSALS_EVENT} `)).flatMap((line) => parseRefusalDetail(line.slice(REFUSALS_EVENT.length + 1)) ?? []);
  if (tallied.length === 0) return undefined;
  const causes = tallied.map((count) => `${count.cause}: ${REASONS[count.cause] ?? count.cause}`);
  return found("refused", tallied[0]!.cause, `probably refused (the report tallies ${tallied.map((c) => `${c.count} ${c.cause}`).join(", ")}): ${causes.join("; ")}`, true);
}

function entries(report: StoredHealth): string[] {
  return report.report.audit.map((entry) => entry.entry);
}

function key(report: StoredHealth): string {
  return `${report.epoch}/${report.counter}`;
}

/** "2026-12-02 02:45Z": the node's clock, as the console shows it. */
export function isoMinute(unixS: number): string {
  return new Date(unixS * 1000).toISOString().slice(0, 16).replace("T", " ") + "Z";
}
