/**
 * `npm run faults`: the fault campaign. Runs each scenario (scenarios.ts) against the embedded
 * broker (aedes) and a real Mosquitto, prints a table per scenario and broker, and exits 1 when a
 * column that must be zero is not (docs/reliability.md). See USAGE.
 */
import { parseCommandLine } from "../command-line.js";
import { runScenario, type ScenarioResult } from "./campaign.js";
import { MOSQUITTO_BINARY } from "./mosquitto-broker.js";
import { campaignPassed, formatCampaignTable } from "./report-table.js";
import { campaignScenarios, type BrokerKind, type CampaignForm } from "./scenarios.js";

const USAGE = `civicnode fault campaign

Usage: npm run faults -- [--short] [--broker aedes|mosquitto|both] [--scenario NAME[,NAME...]]
                         [--nodes N] [--speed X] [--seed S] [--keep]

  --short        the short form CI runs (a few simulated hours per scenario, 4 nodes);
                 default: the full form (hours-long outages, beyond the queue's budget, 8 nodes)
  --broker B     aedes (embedded), mosquitto (Debian's, must be installed) or both (default)
  --scenario S   only these scenarios (outage, flapping, collector-restarts, power-cuts,
                 clock-jumps, sensor-faults, full-disks, everything)
  --nodes N      nodes in the street (default 4 short, 8 full)
  --speed X      simulated seconds per real second (default 1800)
  --seed S       seed of the faults and the street (default "civicnode")
  --keep         keep every scenario's state folder (kept anyway when a scenario fails)

Exit codes: 0 every required column is zero, 1 one is not, 2 bad options.
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandLine(argv, {
      short: { type: "boolean" },
      broker: { type: "string" },
      scenario: { type: "string" },
      nodes: { type: "string" },
      speed: { type: "string" },
      seed: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean" },
    }));
  } catch (error) {
    process.stderr.write(`faults: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const form: CampaignForm = values.short ? "short" : "full";
  const brokerOption = values.broker ?? "both";
  if (!["aedes", "mosquitto", "both"].includes(brokerOption)) {
    process.stderr.write(`faults: --broker must be aedes, mosquitto or both\n`);
    return 2;
  }
  let brokers: BrokerKind[] = brokerOption === "both" ? ["aedes", "mosquitto"] : [brokerOption as BrokerKind];
  if (brokers.includes("mosquitto") && !MOSQUITTO_BINARY) {
    if (brokerOption === "mosquitto") {
      process.stderr.write("faults: mosquitto is not installed (Debian: apt-get install mosquitto)\n");
      return 2;
    }
    process.stderr.write("faults: mosquitto is not installed: running against aedes only\n");
    brokers = ["aedes"];
  }
  const nodes = Number(values.nodes ?? (form === "short" ? 4 : 8));
  const speed = Number(values.speed ?? 1800);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) {
    process.stderr.write("faults: --nodes must be 1-64\n");
    return 2;
  }
  if (!Number.isFinite(speed) || speed < 1 || speed > 100_000) {
    process.stderr.write("faults: --speed must be 1-100000\n");
    return 2;
  }
  const all = campaignScenarios(form);
  const wanted = values.scenario?.split(",").map((name) => name.trim());
  const unknown = wanted?.filter((name) => !all.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`faults: unknown scenario ${unknown.join(", ")}\n`);
    return 2;
  }
  const chosen = all.filter((scenario) => !wanted || wanted.includes(scenario.name));
  const seed = values.seed ?? "civicnode";
  process.stdout.write(`fault campaign, ${form} form: ${nodes} nodes, ${speed}x, seed "${seed}", brokers ${brokers.join(" and ")}\n`);
  for (const scenario of chosen) process.stdout.write(`  ${scenario.name}: ${scenario.description}\n`);
  const results: ScenarioResult[] = [];
  for (const scenario of chosen) {
    for (const broker of brokers.filter((kind) => scenario.brokers.includes(kind))) {
      process.stdout.write(`running ${scenario.name} on ${broker}...\n`);
      const result = await runScenario(scenario, { broker, nodes, speed, seed, keep: values.keep ?? false });
      results.push(result);
      for (const problem of result.problems.slice(0, 10)) process.stdout.write(`  problem: ${problem}\n`);
      if (result.stateDir) process.stdout.write(`  state kept in ${result.stateDir}\n`);
    }
  }
  process.stdout.write(`\n${formatCampaignTable(results)}\n`);
  return campaignPassed(results) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`faults: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
