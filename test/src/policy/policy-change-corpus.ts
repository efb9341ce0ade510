/**
 * Policy changes of every kind, each from a running policy (the reference street's, or that with
 * `base` applied) to a proposed one (`edit` applied on top), with the JSON Pointers at which the
 * proposal weakens privacy (policy-change.ts): none for a change that keeps or strengthens it.
 * Every proposal is a valid policy the reference board can run, so that the node's verification
 * (policy-update.ts) can be tried on each.
 */
import { referencePolicyJson } from "./policy-corpus.js";

type Policy = Record<string, any>;

export interface PolicyChangeCase {
  readonly name: string;
  readonly base?: (policy: Policy) => void;
  readonly edit: (policy: Policy) => void;
  /** The proposed exact position, when it moves. */
  readonly moveTo?: { latitude: number; longitude: number };
  readonly weakens: readonly string[];
}

export const CHANGE_POSITION = { latitude: 0, longitude: 0 };

const channel = (policy: Policy, name: string) => policy.channels.find((c: Policy) => c.name === name);
const index = (name: string) => (referencePolicyJson().channels as Policy[]).findIndex((c) => c.name === name);
const PEOPLE = index("people");
const VEHICLES = index("vehicles");
const DEVICES = index("devices");
const OCCUPANCY = index("occupancy");
const HUMIDITY = index("humidity");
const PM1 = index("pm1");
const dailyOfAll = (): string[] => [PEOPLE, VEHICLES, DEVICES].map((i) => `/channels/${i}/privacy/dailyEpsilon`);
/** A running policy whose occupancy channel has k-anonymity only. */
const occupancyKOnly = (p: Policy) => (channel(p, "occupancy").privacy = { k: 3, epsilon: 0, sensitivity: 1 });

export const WEAKENINGS: readonly PolicyChangeCase[] = [
  { name: "a smaller k", edit: (p) => (channel(p, "people").privacy.k = 2), weakens: [`/channels/${PEOPLE}/privacy/k`] },
  { name: "k-anonymity turned off", edit: (p) => (channel(p, "people").privacy.k = 0), weakens: [`/channels/${PEOPLE}/privacy/k`] },
  // The default daily budget is ε times the windows in a day: it rises with ε.
  { name: "a larger ε", edit: (p) => (channel(p, "people").privacy.epsilon = 1), weakens: [`/channels/${PEOPLE}/privacy/epsilon`, `/channels/${PEOPLE}/privacy/dailyEpsilon`] },
  { name: "noise turned off", edit: (p) => (channel(p, "people").privacy.epsilon = 0), weakens: [`/channels/${PEOPLE}/privacy/epsilon`] },
  { name: "a larger daily budget", edit: (p) => (channel(p, "vehicles").privacy.dailyEpsilon = 200), weakens: [`/channels/${VEHICLES}/privacy/dailyEpsilon`] },
  { name: "a smaller sensitivity", edit: (p) => (channel(p, "people").privacy.sensitivity = 1), weakens: [`/channels/${PEOPLE}/privacy/sensitivity`] },
  { name: "a privacy treatment removed", base: occupancyKOnly, edit: (p) => delete channel(p, "occupancy").privacy, weakens: [`/channels/${OCCUPANCY}/privacy`] },
  {
    name: "a new channel",
    edit: (p) => p.channels.push({ name: "presence", sensor: "radar", output: "presence", dataType: "activity", decimals: 0, stats: ["sum"] }),
    weakens: [`/channels/${referencePolicyJson().channels.length}`],
  },
  { name: "a channel that takes another sensor", edit: (p) => (channel(p, "humidity").sensor = "air"), weakens: [`/channels/${HUMIDITY}/sensor`] },
  { name: "a channel that takes another output", edit: (p) => (channel(p, "humidity").output = "temperature"), weakens: [`/channels/${HUMIDITY}/output`] },
  { name: "a channel declared another data type", edit: (p) => (channel(p, "occupancy").dataType = "environment"), weakens: [`/channels/${OCCUPANCY}/dataType`] },
  { name: "a new statistic", edit: (p) => channel(p, "pm1").stats.push("min"), weakens: [`/channels/${PM1}/stats/3`] },
  { name: "more decimals", edit: (p) => (channel(p, "humidity").decimals = 2), weakens: [`/channels/${HUMIDITY}/decimals`] },
  {
    name: "a totals group dropped",
    base: (p) => (p.totals = [{ total: "vehicles", parts: ["people", "occupancy"] }]),
    edit: (p) => delete p.totals,
    weakens: ["/totals"],
  },
  {
    name: "a totals group changed",
    base: (p) => (p.totals = [{ total: "vehicles", parts: ["people", "occupancy", "devices"] }]),
    edit: (p) => (p.totals = [{ total: "vehicles", parts: ["people", "occupancy"] }]),
    weakens: ["/totals/0"],
  },
  { name: "a finer published position", edit: (p) => (p.location.publishedPrecisionMeters = 50), weakens: ["/location/publishedPrecisionMeters"] },
  { name: "a moved exact position", edit: () => {}, moveTo: { latitude: 0.001, longitude: 0 }, weakens: ["/position"] },
  // More windows a day: the default daily budgets rise with them.
  { name: "a shorter window", edit: (p) => (p.windowSeconds = 150), weakens: ["/windowSeconds", ...dailyOfAll()] },
  { name: "a longer pseudonym epoch", edit: (p) => (p.pseudonymEpochSeconds = 600), weakens: ["/pseudonymEpochSeconds"] },
  { name: "summaries kept longer", edit: (p) => (p.retention.summariesDays = 400), weakens: ["/retention/summariesDays"] },
  { name: "health reports kept longer", edit: (p) => (p.retention.healthDays = 91), weakens: ["/retention/healthDays"] },
  { name: "a new access grant", edit: (p) => p.access.push({ who: "the transport department", data: "window summaries" }), weakens: ["/access/2"] },
  { name: "an access grant reworded", edit: (p) => (p.access[0].data = "window summaries, health reports and exports"), weakens: ["/access/0"] },
  { name: "a new purpose", edit: (p) => p.purposes.push("parking enforcement planning"), weakens: ["/purposes/3"] },
  { name: "a shorter window a command may set", edit: (p) => (p.downlink.allowedWindowSeconds = [300, 60]), weakens: ["/downlink/allowedWindowSeconds/1"] },
  {
    name: "several at once, each listed",
    edit: (p) => {
      channel(p, "devices").privacy.k = 4;
      p.retention.healthDays = 120;
      p.location.publishedPrecisionMeters = 20;
    },
    weakens: ["/location/publishedPrecisionMeters", `/channels/${DEVICES}/privacy/k`, "/retention/healthDays"],
  },
];

/** A running policy whose pseudonym epoch is 900 s, so that a 900 s window is a change of the window alone. */
const epoch900 = (p: Policy) => (p.pseudonymEpochSeconds = 900);

export const STRENGTHENINGS: readonly PolicyChangeCase[] = [
  { name: "nothing changed", edit: () => {}, weakens: [] },
  { name: "a larger k", edit: (p) => (channel(p, "people").privacy.k = 5), weakens: [] },
  { name: "a smaller ε (and with it the default budget)", edit: (p) => (channel(p, "people").privacy.epsilon = 0.25), weakens: [] },
  { name: "a smaller daily budget", edit: (p) => (channel(p, "vehicles").privacy.dailyEpsilon = 10), weakens: [] },
  { name: "a larger sensitivity", edit: (p) => (channel(p, "devices").privacy.sensitivity = 8), weakens: [] },
  { name: "noise added to a k-only channel", base: occupancyKOnly, edit: (p) => (channel(p, "occupancy").privacy.epsilon = 0.5), weakens: [] },
  { name: "a privacy treatment added", edit: (p) => (channel(p, "occupancy").privacy = { k: 2, epsilon: 1, sensitivity: 1 }), weakens: [] },
  { name: "a channel removed", edit: (p) => p.channels.splice(PM1, 1), weakens: [] },
  { name: "a statistic removed", edit: (p) => (channel(p, "temperature").stats = ["count", "mean"]), weakens: [] },
  { name: "fewer decimals", edit: (p) => (channel(p, "temperature").decimals = 1), weakens: [] },
  { name: "a coarser published position", edit: (p) => (p.location.publishedPrecisionMeters = 250), weakens: [] },
  { name: "a longer window", base: epoch900, edit: (p) => (p.windowSeconds = 900), weakens: [] },
  { name: "a shorter pseudonym epoch", base: epoch900, edit: (p) => (p.pseudonymEpochSeconds = 300), weakens: [] },
  { name: "summaries kept for less time", edit: (p) => (p.retention.summariesDays = 30), weakens: [] },
  { name: "an access grant withdrawn", edit: (p) => p.access.splice(0, 1), weakens: [] },
  { name: "a purpose withdrawn", edit: (p) => p.purposes.splice(1, 1), weakens: [] },
  { name: "a totals group added", edit: (p) => (p.totals = [{ total: "vehicles", parts: ["people", "occupancy"] }]), weakens: [] },
  { name: "a longer window a command may set", edit: (p) => (p.downlink.allowedWindowSeconds = [300, 900]), weakens: [] },
  // Neutral: not about what is released, or less data.
  { name: "other filters", edit: (p) => (channel(p, "co2").filters = [{ median: 5 }, { clamp: { min: 300 } }]), weakens: [] },
  { name: "a larger interval factor", edit: (p) => (p.downlink.maxIntervalFactor = 50), weakens: [] },
  { name: "another accountable contact and name", edit: (p) => ((p.accountable.contact = "the city's data office, room 12"), (p.name = "reference-street-2")), weakens: [] },
];

/** The running and proposed policy.json documents and positions of `c`. */
export function changeDocuments(c: PolicyChangeCase): { running: Policy; proposed: Policy; runningAt: typeof CHANGE_POSITION; proposedAt: typeof CHANGE_POSITION } {
  const running = referencePolicyJson();
  c.base?.(running);
  const proposed = structuredClone(running);
  c.edit(proposed);
  return { running, proposed, runningAt: CHANGE_POSITION, proposedAt: c.moveTo ?? CHANGE_POSITION };
}
