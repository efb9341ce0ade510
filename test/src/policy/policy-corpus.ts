/**
 * Policies that the JSON Schema (policy.schema.json) and the portable parser (deployment-policy.ts)
 * must judge alike: each case edits the reference street's policy and names the error it expects,
 * by JSON Pointer and rule. `parserOnly`: a rule JSON Schema cannot state (the schema accepts it).
 */
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };

type Policy = Record<string, any>;

export interface PolicyCase {
  readonly name: string;
  readonly edit: (policy: Policy) => void;
  /** undefined: the policy is valid. */
  readonly error?: { readonly path: string; readonly rule: string };
  readonly parserOnly?: boolean;
}

export function referencePolicyJson(): Policy {
  return structuredClone(REFERENCE) as Policy;
}

const people = (policy: Policy) => policy.channels.find((c: Policy) => c.name === "people");

export const POLICY_CASES: readonly PolicyCase[] = [
  { name: "the reference street", edit: () => {} },
  { name: "without $schema", edit: (p) => delete p.$schema },
  { name: "a pseudonym epoch of a day", edit: (p) => (p.pseudonymEpochSeconds = 86400) },
  { name: "no pseudonym epoch (one window)", edit: (p) => delete p.pseudonymEpochSeconds },
  { name: "totals", edit: (p) => (p.totals = [{ total: "people", parts: ["vehicles", "devices"] }]) },
  { name: "a dailyEpsilon", edit: (p) => (people(p).privacy.dailyEpsilon = 12) },
  { name: "k only", edit: (p) => (people(p).privacy = { k: 5, epsilon: 0, sensitivity: 1 }) },
  { name: "ε only", edit: (p) => (people(p).privacy = { k: 0, epsilon: 0.25, sensitivity: 1 }) },
  { name: "every filter", edit: (p) => (p.channels[0].filters = [{ calibrate: { slope: 1.01, offset: -0.2 } }, { median: 7 }, { clamp: { min: -40, max: 60 } }, { throttle: 5 }]) },
  { name: "a downlink with two windows", edit: (p) => (p.downlink = { allowedWindowSeconds: [300, 900], maxIntervalFactor: 4 }) },
  { name: "no downlink block", edit: (p) => delete p.downlink },
  { name: "a 15-minute window", edit: (p) => ((p.windowSeconds = 900), (p.pseudonymEpochSeconds = 900), (p.downlink.allowedWindowSeconds = [900])) },

  { name: "not an object", edit: (p) => Object.assign(p, { __replace: [] }), error: { path: "", rule: "type" } },
  { name: "another format", edit: (p) => (p.format = "civicnode-config"), error: { path: "/format", rule: "const" } },
  { name: "a newer version", edit: (p) => (p.version = 2), error: { path: "/version", rule: "const" } },
  { name: "an unknown field", edit: (p) => (p.cameras = true), error: { path: "/cameras", rule: "additionalProperties" } },
  { name: "no name", edit: (p) => delete p.name, error: { path: "/name", rule: "required" } },
  { name: "a name with capitals", edit: (p) => (p.name = "Reference"), error: { path: "/name", rule: "pattern" } },
  { name: "no accountable organisation", edit: (p) => delete p.accountable.organisation, error: { path: "/accountable/organisation", rule: "required" } },
  { name: "a placeholder contact", edit: (p) => (p.accountable.contact = "(set disclosure.contact)"), error: { path: "/accountable/contact", rule: "placeholder" } },
  { name: "a TODO organisation", edit: (p) => (p.accountable.organisation = "TODO: the city"), error: { path: "/accountable/organisation", rule: "placeholder" } },
  { name: "an example.org contact", edit: (p) => (p.accountable.contact = "privacy@example.org"), error: { path: "/accountable/contact", rule: "placeholder" } },
  { name: "a template slot", edit: (p) => (p.purposes[1] = "noise for <your city>"), error: { path: "/purposes/1", rule: "placeholder" } },
  { name: "an empty contact", edit: (p) => (p.accountable.contact = ""), error: { path: "/accountable/contact", rule: "minLength" } },
  { name: "a contact too long", edit: (p) => (p.accountable.contact = "x".repeat(301)), error: { path: "/accountable/contact", rule: "maxLength" } },
  { name: "a number as contact", edit: (p) => (p.accountable.contact = 5), error: { path: "/accountable/contact", rule: "type" } },
  { name: "no purposes", edit: (p) => (p.purposes = []), error: { path: "/purposes", rule: "minItems" } },
  { name: "nine purposes", edit: (p) => (p.purposes = Array.from({ length: 9 }, (_, i) => `purpose ${i}`)), error: { path: "/purposes", rule: "maxItems" } },
  { name: "no location", edit: (p) => delete p.location, error: { path: "/location", rule: "required" } },
  { name: "a 1 m published precision", edit: (p) => (p.location.publishedPrecisionMeters = 1), error: { path: "/location/publishedPrecisionMeters", rule: "minimum" } },
  { name: "an exact position in the policy", edit: (p) => (p.location.latitude = 48.1), error: { path: "/location/latitude", rule: "additionalProperties" } },
  { name: "a window that does not divide a day", edit: (p) => (p.windowSeconds = 420), error: { path: "/windowSeconds", rule: "enum" } },
  { name: "a window of 30 s", edit: (p) => (p.windowSeconds = 30), error: { path: "/windowSeconds", rule: "enum" } },
  { name: "a window in text", edit: (p) => (p.windowSeconds = "300"), error: { path: "/windowSeconds", rule: "type" } },
  { name: "a pseudonym epoch off the windows", edit: (p) => (p.pseudonymEpochSeconds = 450), error: { path: "/pseudonymEpochSeconds", rule: "x-multiple-of-window" }, parserOnly: true },
  { name: "a pseudonym epoch of two days", edit: (p) => (p.pseudonymEpochSeconds = 172800), error: { path: "/pseudonymEpochSeconds", rule: "maximum" } },
  { name: "no channels", edit: (p) => (p.channels = []), error: { path: "/channels", rule: "minItems" } },
  { name: "a channel twice", edit: (p) => p.channels.push(structuredClone(p.channels[0])), error: { path: "/channels/11/name", rule: "x-unique-channel-names" }, parserOnly: true },
  { name: "a channel name with a slash", edit: (p) => (p.channels[0].name = "temp/c"), error: { path: "/channels/0/name", rule: "pattern" } },
  { name: "a channel without a sensor", edit: (p) => delete p.channels[2].sensor, error: { path: "/channels/2/sensor", rule: "required" } },
  { name: "an unknown data type", edit: (p) => (p.channels[0].dataType = "faces"), error: { path: "/channels/0/dataType", rule: "enum" } },
  { name: "an unknown statistic", edit: (p) => (p.channels[0].stats = ["count", "median"]), error: { path: "/channels/0/stats/1", rule: "enum" } },
  { name: "a statistic twice", edit: (p) => (p.channels[0].stats = ["count", "count"]), error: { path: "/channels/0/stats", rule: "uniqueItems" } },
  { name: "seven decimals", edit: (p) => (p.channels[0].decimals = 7), error: { path: "/channels/0/decimals", rule: "maximum" } },
  { name: "a fractional decimals", edit: (p) => (p.channels[0].decimals = 1.5), error: { path: "/channels/0/decimals", rule: "type" } },
  { name: "a filter with two kinds", edit: (p) => (p.channels[0].filters = [{ median: 3, throttle: 2 }]), error: { path: "/channels/0/filters/0", rule: "oneOf" } },
  { name: "an unknown filter", edit: (p) => (p.channels[0].filters = [{ smooth: 3 }]), error: { path: "/channels/0/filters/0", rule: "oneOf" } },
  { name: "an even median", edit: (p) => (p.channels[0].filters = [{ median: 4 }]), error: { path: "/channels/0/filters/0/median", rule: "enum" } },
  { name: "a clamp upside down", edit: (p) => (p.channels[0].filters = [{ clamp: { min: 10, max: 0 } }]), error: { path: "/channels/0/filters/0/clamp", rule: "x-min-below-max" }, parserOnly: true },
  { name: "a people count without privacy", edit: (p) => delete people(p).privacy, error: { path: "/channels/7/privacy", rule: "required" } },
  { name: "k = 1", edit: (p) => (people(p).privacy.k = 1), error: { path: "/channels/7/privacy/k", rule: "not" } },
  { name: "a negative k", edit: (p) => (people(p).privacy.k = -3), error: { path: "/channels/7/privacy/k", rule: "minimum" } },
  { name: "neither k nor ε", edit: (p) => (people(p).privacy = { k: 0, epsilon: 0, sensitivity: 1 }), error: { path: "/channels/7/privacy", rule: "not" } },
  { name: "a tiny ε", edit: (p) => (people(p).privacy.epsilon = 0.005), error: { path: "/channels/7/privacy/epsilon", rule: "anyOf" } },
  { name: "ε of eleven", edit: (p) => (people(p).privacy.epsilon = 11), error: { path: "/channels/7/privacy/epsilon", rule: "maximum" } },
  { name: "ε with four decimals", edit: (p) => (people(p).privacy.epsilon = 0.1234), error: { path: "/channels/7/privacy/epsilon", rule: "x-three-decimals" }, parserOnly: true },
  { name: "a daily budget below one release", edit: (p) => (people(p).privacy.dailyEpsilon = 0.1), error: { path: "/channels/7/privacy/dailyEpsilon", rule: "x-one-release" }, parserOnly: true },
  { name: "no sensitivity", edit: (p) => delete people(p).privacy.sensitivity, error: { path: "/channels/7/privacy/sensitivity", rule: "required" } },
  { name: "an unknown privacy field", edit: (p) => (people(p).privacy.delta = 1e-6), error: { path: "/channels/7/privacy/delta", rule: "additionalProperties" } },
  { name: "a total of an unknown channel", edit: (p) => (p.totals = [{ total: "cyclists", parts: ["people", "vehicles"] }]), error: { path: "/totals/0/total", rule: "x-known-channel" }, parserOnly: true },
  { name: "a total with one part", edit: (p) => (p.totals = [{ total: "people", parts: ["vehicles"] }]), error: { path: "/totals/0/parts", rule: "minItems" } },
  { name: "no retention", edit: (p) => delete p.retention, error: { path: "/retention", rule: "required" } },
  { name: "a retention of 0 days", edit: (p) => (p.retention.summariesDays = 0), error: { path: "/retention/summariesDays", rule: "minimum" } },
  { name: "no health retention", edit: (p) => delete p.retention.healthDays, error: { path: "/retention/healthDays", rule: "required" } },
  { name: "no access", edit: (p) => (p.access = []), error: { path: "/access", rule: "minItems" } },
  { name: "an access grant without who", edit: (p) => delete p.access[0].who, error: { path: "/access/0/who", rule: "required" } },
  { name: "a downlink window that does not divide a day", edit: (p) => (p.downlink.allowedWindowSeconds = [300, 700]), error: { path: "/downlink/allowedWindowSeconds/1", rule: "enum" } },
  { name: "a downlink window twice", edit: (p) => (p.downlink.allowedWindowSeconds = [300, 300]), error: { path: "/downlink/allowedWindowSeconds", rule: "uniqueItems" } },
  { name: "a speed-up factor", edit: (p) => (p.downlink.maxIntervalFactor = 0.5), error: { path: "/downlink/maxIntervalFactor", rule: "minimum" } },
];

/** The policy a case describes. */
export function casePolicy(c: PolicyCase): unknown {
  const policy = referencePolicyJson();
  c.edit(policy);
  return "__replace" in policy ? policy.__replace : policy;
}
