/**
 * Fuzzing the node's configuration parser (parseNodeConfig, src/policy/node-config.ts; docs/fuzzing.md):
 * any JavaScript value, random JSON, the built-in street's configuration (hosts/sim/street.ts) with
 * its tree edited (keys removed, values replaced by edge values of every type, unknown keys, own
 * "__proto__" keys), and the same configuration with its JSON text mutated.
 *
 * parseNodeConfig declares ConfigError only. A configuration it accepts stays within CONFIG_LIMITS,
 * which is what bounds a node's memory whatever the configuration says.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONFIG_LIMITS, ConfigError, parseNodeConfig, type NodeConfig } from "../../src/policy/node-config.js";
import { streetNodeConfig } from "../../hosts/sim/street.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { expectOnly, fuzzProperty, mutantsOf, textOf } from "../support/fuzz.js";

const STREET = streetNodeConfig("street-01");

/** One edit of a configuration tree: which node (index into its nodes, modulo) and what to do there. */
type Edit = { readonly at: number; readonly action: "delete" | "replace" | "unknown-key" | "proto-key" | "duplicate" | "wrap"; readonly value: unknown };

const edgeValue = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0, 1e9, -1e9, 2 ** 53, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, 59, 61, 86_400, 86_401, 7),
  fc.constantFrom("", "x", "x".repeat(400), "__proto__", "constructor", "sht4x", "count", "-a", "A"),
  fc.constantFrom(null, true, false, undefined),
  // Fresh containers every time: a shared constant would be edited by one case and seen by the next.
  fc.constantFrom("array", "object").map((kind) => (kind === "array" ? [] : {})),
  fc.jsonValue({ maxDepth: 2 }),
);
const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  action: fc.constantFrom("delete", "replace", "replace", "replace", "unknown-key", "proto-key", "duplicate", "wrap"),
  value: edgeValue,
});

/** Every (container, key) of a tree, the root's own keys included. */
function slots(tree: unknown): Array<[Record<string, unknown> | unknown[], string | number]> {
  const found: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach((child, i) => (found.push([node, i]), walk(child)));
    else if (typeof node === "object" && node !== null) for (const key of Object.keys(node)) found.push([node as Record<string, unknown>, key]), walk((node as Record<string, unknown>)[key]);
  };
  walk(tree);
  return found;
}

function applyEdits(config: Record<string, unknown>, edits: readonly Edit[]): unknown {
  const tree = structuredClone(config);
  for (const edit of edits) {
    // The generated value is fast-check's (reused while shrinking): the tree gets its own copy.
    const e = { ...edit, value: structuredClone(edit.value) };
    const all = slots(tree);
    if (all.length === 0) break;
    const [container, key] = all[e.at % all.length]!;
    const current = (container as Record<string | number, unknown>)[key];
    switch (e.action) {
      case "delete":
        if (Array.isArray(container)) container.splice(key as number, 1);
        else delete container[key as string];
        break;
      case "replace":
        (container as Record<string | number, unknown>)[key] = e.value;
        break;
      case "unknown-key":
        if (typeof current === "object" && current !== null && !Array.isArray(current)) (current as Record<string, unknown>)["extra"] = e.value;
        break;
      case "proto-key":
        // What JSON.parse makes of {"__proto__": ...}: an own property, not a prototype.
        if (typeof current === "object" && current !== null) Object.defineProperty(current, "__proto__", { value: e.value, enumerable: true, configurable: true, writable: true });
        break;
      case "duplicate":
        if (Array.isArray(current) && current.length > 0) current.push(structuredClone(current[0]));
        break;
      case "wrap":
        (container as Record<string | number, unknown>)[key] = [current];
        break;
    }
  }
  return tree;
}

function parseChecked(raw: unknown): NodeConfig | undefined {
  const config = expectOnly([ConfigError], () => parseNodeConfig(raw));
  if (!config) return undefined;
  expect(config.sensors.length).toBeGreaterThan(0);
  expect(config.sensors.length).toBeLessThanOrEqual(CONFIG_LIMITS.sensors);
  for (const sensor of config.sensors) {
    expect(sensor.channels.length).toBeLessThanOrEqual(CONFIG_LIMITS.channelsPerSensor);
    for (const channel of sensor.channels) expect(channel.filters.length).toBeLessThanOrEqual(CONFIG_LIMITS.filtersPerChannel);
  }
  // Every uplink bound that CONFIG_LIMITS declares holds, and every number is finite.
  const limits = CONFIG_LIMITS as Readonly<Record<string, number>>;
  for (const [key, value] of Object.entries(config.uplink)) {
    expect(Number.isFinite(value), `uplink.${key}`).toBe(true);
    if (key in limits) expect(value, `uplink.${key}`).toBeLessThanOrEqual(limits[key]!);
  }
  expect(Number.isFinite(config.windowSeconds)).toBe(true);
  return config;
}

describe("parseNodeConfig under fuzzing (ConfigError only, limits hold)", () => {
  it("the street's own configuration is accepted (the seed of the mutations)", () => {
    expect(parseChecked(STREET)).toBeDefined();
  });

  it("any value and random JSON", () => {
    const anyRoot = fc.oneof(fc.anything({ maxDepth: 4, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true }), fc.jsonValue({ maxDepth: 5 }));
    fuzzProperty("config.random", 2000, anyRoot, (raw) => {
      parseChecked(raw);
    });
  });

  it("the street's configuration with its tree edited", () => {
    fuzzProperty("config.tree-edits", 2000, fc.array(edit, { minLength: 1, maxLength: 5 }), (edits) => {
      parseChecked(applyEdits(STREET, edits));
    });
  });

  it("the street's configuration with its JSON text mutated", () => {
    const text = fc.array(edit, { maxLength: 2 }).map((edits) => utf8Encode(JSON.stringify(applyEdits(STREET, edits)) ?? "null"));
    fuzzProperty("config.text-mutations", 1500, mutantsOf(text), (mutant) => {
      let raw: unknown;
      try {
        raw = JSON.parse(textOf(mutant.bytes));
      } catch {
        return; // not JSON: the manifest or file loader refuses it before the parser sees it
      }
      parseChecked(raw);
    });
  });
});
