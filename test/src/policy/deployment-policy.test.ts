import { describe, expect, it } from "vitest";
import POLICY_SCHEMA from "../../../src/policy/policy.schema.json" with { type: "json" };
import { parsePolicy, PLACEHOLDER_PATTERN, PolicyError } from "../../../src/policy/deployment-policy.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { nodeConfigFromPolicy } from "../../../src/policy/node-from-policy.js";
import { streetBoard } from "../../../hosts/sim/street.js";
import { checkPolicy, policySchemaValidator } from "../../../hosts/node/policy-file.js";
import { casePolicy, POLICY_CASES, referencePolicyJson } from "./policy-corpus.js";

const schema = policySchemaValidator();

function parserError(raw: unknown): { path: string; rule: string } | undefined {
  try {
    parsePolicy(raw);
    return undefined;
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return { path: error.path, rule: error.rule };
  }
}

describe("the policy's schema and its portable parser agree", () => {
  for (const c of POLICY_CASES) {
    it(c.error ? `refuse ${c.name} at ${c.error.path || "/"} (${c.error.rule})` : `accept ${c.name}`, () => {
      const raw = casePolicy(c);
      const schemaIssues = schema(raw).map(({ path, rule }) => ({ path, rule }));
      const parsed = parserError(raw);
      if (!c.error) {
        expect(schemaIssues).toEqual([]);
        expect(parsed).toBeUndefined();
        return;
      }
      expect(parsed).toEqual(c.error);
      if (c.parserOnly) expect(schemaIssues).toEqual([]);
      else expect(schemaIssues).toContainEqual(c.error);
    });
  }

  it("share the placeholder rule and the list of windows", () => {
    expect(POLICY_SCHEMA.$defs.text.not.pattern).toBe(PLACEHOLDER_PATTERN);
    const dayDivisors = Array.from({ length: 86400 - 59 }, (_, i) => i + 60).filter((s) => 86400 % s === 0);
    expect(POLICY_SCHEMA.$defs.window.enum).toEqual(dayDivisors);
  });

  it("the host's check lists every schema error at once, and the parser's own rules after them", () => {
    const raw = referencePolicyJson();
    raw.accountable.contact = "TBD";
    raw.windowSeconds = 301;
    raw.channels[7].privacy.k = 1;
    expect(checkPolicy(raw, schema).issues.map((i) => `${i.path} ${i.rule}`)).toEqual(
      expect.arrayContaining(["/accountable/contact placeholder", "/windowSeconds enum", "/channels/7/privacy/k not"]),
    );
    const parserOnly = referencePolicyJson();
    parserOnly.pseudonymEpochSeconds = 450;
    expect(checkPolicy(parserOnly, schema)).toEqual({ issues: [{ path: "/pseudonymEpochSeconds", rule: "x-multiple-of-window", message: "must be a multiple of windowSeconds (300)" }] });
  });

  it("an error message names the path and the rule", () => {
    const raw = referencePolicyJson();
    raw.channels[7].privacy.k = 1;
    expect(() => parsePolicy(raw)).toThrow("/channels/7/privacy/k: must not be 1: it would withhold nothing (0 for none, or 2 and more) (not)");
  });
});

describe("a node's configuration comes from its policy", () => {
  const identity = { zone: "demo-street", device: "street-01" };

  it("carries the policy's channels, window, privacy, downlink limits and disclosed facts", () => {
    const policy = parsePolicy(referencePolicyJson());
    const config = parseNodeConfig(nodeConfigFromPolicy(identity, streetBoard(), policy));
    expect(config.windowSeconds).toBe(300);
    expect(config.sensors.flatMap((s) => s.channels.map((c) => `${s.id}:${c.name}`))).toEqual(policy.channels.map((c) => `${c.sensor}:${c.name}`));
    const people = config.sensors.find((s) => s.id === "radar")!.channels[0]!;
    expect(people).toMatchObject({ name: "people", output: "entries", dataType: "people-count", privacy: { k: 3, epsilon: 0.5, sensitivity: 2, dailyEpsilon: 144 } });
    expect(config.disclosure).toEqual({ policy: "reference-street", ...parsedFacts(policy) });
    expect(config.downlink).toEqual({ allowedWindowSeconds: [300], maxIntervalFactor: 10 });
  });

  it("leaves out a sensor of the board that the policy does not name, so it is never read", () => {
    const raw = referencePolicyJson();
    raw.channels = raw.channels.filter((c: { sensor: string }) => c.sensor !== "ble");
    const config = parseNodeConfig(nodeConfigFromPolicy(identity, streetBoard(), parsePolicy(raw)));
    expect(config.sensors.map((s) => s.id)).not.toContain("ble");
  });

  it("refuses a channel on a sensor the board does not have, at its path", () => {
    const raw = referencePolicyJson();
    raw.channels[0].sensor = "camera";
    expect(() => nodeConfigFromPolicy(identity, streetBoard(), parsePolicy(raw))).toThrow(expect.objectContaining({ path: "/channels/0/sensor", rule: "x-board-sensor" }));
  });

  it("a compiled configuration without the disclosed facts, or with a placeholder in them, is refused", () => {
    const compiled = nodeConfigFromPolicy(identity, streetBoard(), parsePolicy(referencePolicyJson())) as Record<string, any>;
    expect(() => parseNodeConfig({ ...compiled, disclosure: undefined })).toThrow("disclosure: must be an object");
    const placeholder = structuredClone(compiled);
    placeholder.disclosure.accountable.contact = "(set disclosure.contact)";
    expect(() => parseNodeConfig(placeholder)).toThrow(/^disclosure\.accountable\.contact: .*placeholder/);
  });
});

function parsedFacts(policy: ReturnType<typeof parsePolicy>) {
  const { accountable, purposes, publishedPrecisionMeters, retention, access } = policy;
  return { accountable, purposes, publishedPrecisionMeters, retention, access };
}

describe("a count of people cannot be declared as something else", () => {
  it.each([
    ["people", "activity"],
    ["vehicles", "environment"],
    ["devices", "people-count"],
  ])("refuses the %s channel declared as %s, so it cannot skip its privacy treatment", (name, dataType) => {
    const raw = referencePolicyJson();
    const index = raw.channels.findIndex((c: { name: string }) => c.name === name);
    raw.channels[index].dataType = dataType;
    delete raw.channels[index].privacy;
    if (dataType.endsWith("-count")) raw.channels[index].privacy = { k: 3, epsilon: 0.5, sensitivity: 1 };
    expect(() => nodeConfigFromPolicy({ zone: "demo-street", device: "street-01" }, streetBoard(), parsePolicy(raw))).toThrow(
      expect.objectContaining({ path: `/channels/${index}/dataType`, rule: "x-counts" }),
    );
  });
});
