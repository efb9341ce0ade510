/**
 * What a proposed policy changes for the worse: the comparison behind the two-key rule
 * (docs/governance.md). A change that keeps or strengthens privacy needs the operator's signature;
 * one that weakens it in any way listed here also needs the oversight key's countersignature, and
 * the node checks it (policy-update.ts). The host's tool runs the same comparison before it signs,
 * so that it can say what needs the second key.
 *
 * Weaker, each at the JSON Pointer of the proposed policy.json where it shows:
 *   - a channel with a new name, or an old name that now takes another sensor or output, or is
 *     declared another data type (what residents are told it is about);
 *   - a new statistic on a channel; more decimals (a finer value);
 *   - k smaller (0 is none); ε larger, or noise turned off (ε 0); a larger daily ε budget; a
 *     smaller sensitivity (Δ sets the noise's scale Δ/ε: a smaller Δ is less noise for the same ε,
 *     and a Δ below the truth voids the guarantee, so a larger Δ is stronger); a privacy treatment
 *     removed. Budget and Δ matter only while both policies add noise;
 *   - a totals group dropped or changed while its channels remain (secondary suppression no longer
 *     hides that equation);
 *   - a shorter window; a longer pseudonym epoch;
 *   - a finer published position (fewer metres), or a moved exact position (`/position`, the
 *     signed payload's, beside policy.json: the published cell may move with it);
 *   - longer retention of summaries or of health reports;
 *   - wider access: a grant whose who and data are not, word for word, one the running policy
 *     makes (the node cannot read intent from text: an edited grant counts as a new one);
 *   - a new purpose, likewise word for word (data collected for one purpose is not to serve
 *     another without oversight);
 *   - a window a downlink command may set that is shorter than every window the running policy
 *     allowed (its own included).
 * Neutral or stronger, never listed: a channel, statistic, purpose, grant or decimal removed; k,
 * Δ or the precision in metres raised; ε or the budget lowered, noise or a privacy treatment
 * added; filters (they shape the measurement, not what is released about it); a larger
 * maxIntervalFactor (commands may only slow a sensor down: less data); the accountable
 * organisation and contact; the policy's name.
 */
import type { DeploymentPolicy, PolicyChannel } from "./deployment-policy.js";

export interface PolicyWeakening {
  /** JSON Pointer (RFC 6901) into the proposed policy.json; `/position` for the exact position. */
  readonly pointer: string;
  /** One sentence a person reads: what is weaker, from what to what. */
  readonly reason: string;
}

/** A policy with the exact position of the node it is for. */
export interface PlacedPolicy {
  readonly policy: DeploymentPolicy;
  readonly position: { readonly latitude: number; readonly longitude: number };
}

/** Every way `proposed` weakens privacy against `running`, in document order; empty when none. */
export function policyWeakenings(running: PlacedPolicy, proposed: PlacedPolicy): PolicyWeakening[] {
  const was = running.policy;
  const now = proposed.policy;
  const found: PolicyWeakening[] = [];
  const weaker = (pointer: string, reason: string) => found.push({ pointer, reason });

  if (running.position.latitude !== proposed.position.latitude || running.position.longitude !== proposed.position.longitude) {
    weaker("/position", `the exact position moves from ${place(running.position)} to ${place(proposed.position)}`);
  }
  newTexts(was.purposes, now.purposes).forEach((i) => weaker(`/purposes/${i}`, `a new purpose: "${clip(now.purposes[i]!)}"`));
  if (now.publishedPrecisionMeters < was.publishedPrecisionMeters) {
    weaker("/location/publishedPrecisionMeters", `the position is published to ${now.publishedPrecisionMeters} m instead of ${was.publishedPrecisionMeters} m`);
  }
  if (now.windowSeconds < was.windowSeconds) weaker("/windowSeconds", `windows of ${now.windowSeconds} s instead of ${was.windowSeconds} s`);
  if (now.pseudonymEpochSeconds > was.pseudonymEpochSeconds) {
    weaker("/pseudonymEpochSeconds", `a pseudonym key lives ${now.pseudonymEpochSeconds} s instead of ${was.pseudonymEpochSeconds} s`);
  }

  const before = new Map(was.channels.map((channel) => [channel.name, channel] as const));
  now.channels.forEach((channel, i) => {
    const old = before.get(channel.name);
    if (old === undefined) weaker(`/channels/${i}`, `a new channel "${channel.name}" (${channel.sensor}/${channel.output})`);
    else channelWeakenings(old, channel, `/channels/${i}`, weaker);
  });

  const names = new Set(now.channels.map(({ name }) => name));
  for (const group of was.totals) {
    const kept = now.totals.findIndex((g) => g.total === group.total && sameSet(g.parts, group.parts));
    if (kept >= 0 || ![group.total, ...group.parts].every((name) => names.has(name))) continue;
    const changed = now.totals.findIndex((g) => g.total === group.total);
    weaker(changed >= 0 ? `/totals/${changed}` : "/totals", `the total ${group.total} = ${group.parts.join(" + ")} is no longer suppressed as one equation`);
  }

  if (now.retention.summariesDays > was.retention.summariesDays) {
    weaker("/retention/summariesDays", `summaries are kept ${now.retention.summariesDays} days instead of ${was.retention.summariesDays}`);
  }
  if (now.retention.healthDays > was.retention.healthDays) {
    weaker("/retention/healthDays", `health reports are kept ${now.retention.healthDays} days instead of ${was.retention.healthDays}`);
  }
  const grants = was.access.map(({ who, data }) => `${who}\u0000${data}`);
  now.access.forEach(({ who, data }, i) => {
    if (!grants.includes(`${who}\u0000${data}`)) weaker(`/access/${i}`, `"${clip(who)}" may see "${clip(data)}"`);
  });

  const shortest = Math.min(was.windowSeconds, ...was.downlink.allowedWindowSeconds);
  now.downlink.allowedWindowSeconds.forEach((seconds, i) => {
    if (seconds < shortest) weaker(`/downlink/allowedWindowSeconds/${i}`, `a command may set windows of ${seconds} s, shorter than any the running policy allowed (${shortest} s)`);
  });
  return found;
}

function channelWeakenings(old: PolicyChannel, channel: PolicyChannel, at: string, weaker: (pointer: string, reason: string) => void): void {
  const name = `channel "${channel.name}"`;
  if (channel.sensor !== old.sensor) weaker(`${at}/sensor`, `${name} takes sensor ${channel.sensor} instead of ${old.sensor}`);
  if (channel.output !== old.output) weaker(`${at}/output`, `${name} takes output ${channel.output} instead of ${old.output}`);
  if (channel.dataType !== old.dataType) weaker(`${at}/dataType`, `${name} is declared ${channel.dataType} instead of ${old.dataType}`);
  channel.stats.forEach((stat, k) => {
    if (!old.stats.includes(stat)) weaker(`${at}/stats/${k}`, `${name} releases a new statistic, ${stat}`);
  });
  if (channel.decimals > old.decimals) weaker(`${at}/decimals`, `${name} is released with ${channel.decimals} decimals instead of ${old.decimals}`);

  const was = old.privacy;
  const now = channel.privacy;
  if (was === undefined) return;
  if (now === undefined) {
    weaker(`${at}/privacy`, `${name} loses its privacy treatment (k ${was.k}, ε ${was.epsilon})`);
    return;
  }
  if (now.k < was.k) weaker(`${at}/privacy/k`, now.k === 0 ? `${name} no longer withholds small counts (k ${was.k} to 0)` : `${name} withholds counts below ${now.k} instead of below ${was.k}`);
  if (was.epsilon > 0 && now.epsilon === 0) weaker(`${at}/privacy/epsilon`, `${name} releases counts without noise (ε ${was.epsilon} to 0)`);
  if (was.epsilon > 0 && now.epsilon > 0) {
    if (now.epsilon > was.epsilon) weaker(`${at}/privacy/epsilon`, `${name} adds less noise: ε ${now.epsilon} per release instead of ${was.epsilon}`);
    if (now.dailyEpsilon > was.dailyEpsilon) weaker(`${at}/privacy/dailyEpsilon`, `${name} may spend ε ${now.dailyEpsilon} a day instead of ${was.dailyEpsilon}`);
    if (now.sensitivity < was.sensitivity) weaker(`${at}/privacy/sensitivity`, `${name} scales its noise to a sensitivity of ${now.sensitivity} instead of ${was.sensitivity}`);
  }
}

/** Indexes of the texts in `now` that `was` does not hold word for word. */
function newTexts(was: readonly string[], now: readonly string[]): number[] {
  return now.flatMap((text, i) => (was.includes(text) ? [] : [i]));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name));
}

function place(position: { readonly latitude: number; readonly longitude: number }): string {
  return `${position.latitude},${position.longitude}`;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
