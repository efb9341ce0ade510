/**
 * Every privacy parameter of a disclosure in sentences a resident can follow, with the quantities
 * the disclosure states and what follows from them, nothing else:
 *
 *   k (kAnonymity)         a count in [1, k) is withheld (src/privacy/release-gate.ts): that it
 *                          was small stays visible, the number does not
 *   Δ (sensitivity)        the noise is sized for one person changing a window's count by Δ; who
 *                          changes it by more is protected less, in proportion
 *   ε (epsilonPerRelease)  discrete Laplace noise of scale Δ/ε (src/privacy/discrete-laplace.ts):
 *                          P(|Z| <= m) = 1 - 2p^(m+1)/(1+p), p = e^(-ε/Δ), gives the spread
 *                          quoted; ε-differential privacy bounds how far one window's count can
 *                          move anyone's odds that a given person was there: a factor of e^ε
 *                          (two windows, e^2ε: sequential composition)
 *   daily ε (dailyEpsilon) what one channel may spend in a UTC day (src/privacy/privacy-budget.ts):
 *                          floor(daily / ε) releases, and the bound for someone counted in all of
 *                          them: e^daily. With the reference street's 0.5 and 144 that bound
 *                          means nothing, and the sentence says so rather than hide it
 *
 * Plain text: the page escapes it (html-escape.ts).
 */
import type { DisclosedDataType } from "./public-disclosure.js";
import { durationAdjective } from "./disclosure-words.js";

export type PrivacyParameter = "kAnonymity" | "sensitivity" | "epsilonPerRelease" | "dailyEpsilon";

export interface PrivacyExplanation {
  readonly parameter: PrivacyParameter;
  /** The value as the disclosure states it. */
  readonly value: number;
  readonly sentences: readonly string[];
}

/** Share of windows the quoted spread of the noise covers at least. */
const SPREAD_SHARE = 0.75;
const SECONDS_A_DAY = 86_400;

/** The sentences for a channel's privacy parameters, in the order k, Δ, ε, daily ε; those it does not state are left out. */
export function privacyExplanations(channel: DisclosedDataType, windowSeconds: number | undefined): PrivacyExplanation[] {
  const privacy = channel.privacy;
  if (!privacy) return [];
  const who = subjectOf(channel.dataType);
  const window = windowSeconds === undefined ? "one window" : `one ${durationAdjective(windowSeconds)} window`;
  const out: PrivacyExplanation[] = [];
  const { kAnonymity: k, sensitivity: delta, epsilonPerRelease: epsilon, dailyEpsilon: daily } = privacy;

  if (k !== undefined) {
    out.push({
      parameter: "kAnonymity",
      value: k,
      sentences:
        k >= 2
          ? [
              `Counts below ${k} are never published: a window that counted ${smallCounts(k)} shows "withheld", never the number, so that a lone ${who.one}${k > 2 ? " or a small group" : ""} is never singled out.`,
              "That a window was withheld does show that its count was small, though not zero.",
            ]
          : ["No count is withheld for being small on this channel (k-anonymity is off)."],
    });
  }
  if (delta !== undefined) {
    out.push({
      parameter: "sensitivity",
      value: delta,
      sentences: [
        `The protection is sized for one ${who.person} changing a window's count by at most ${delta}${who.example(delta)}. Someone who changes it by more, by coming and going again and again in one window, is protected less, in proportion.`,
      ],
    });
  }
  if (epsilon !== undefined) {
    if (epsilon <= 0) {
      out.push({ parameter: "epsilonPerRelease", value: epsilon, sentences: ["No random noise is added to this channel's counts (ε = 0): a published count is the exact count."] });
    } else {
      const sentences: string[] = [];
      if (delta !== undefined && delta > 0) {
        const spread = noiseSpread(epsilon, delta);
        sentences.push(
          `Every published count has random noise added, of scale Δ/ε = ${decimal(delta / epsilon)}: in at least 3 windows out of 4 it is within ${spread} of the true count, either way, and a quiet window can even show a count below zero. No single count tells for sure whether a given ${who.person} was there.`,
        );
      }
      sentences.push(
        `For someone walking past once, in ${window} (ε = ${decimal(epsilon)}): whatever an observer knew before, that window's published count can change the odds they give to "this ${who.person} was here then" by a factor of at most ${oddsFactor(epsilon)}. If the walk falls across two windows, by at most ${oddsFactor(2 * epsilon)}.`,
      );
      out.push({ parameter: "epsilonPerRelease", value: epsilon, sentences });
    }
  }
  if (daily !== undefined && epsilon !== undefined && epsilon > 0) {
    const releases = Math.floor(Math.round(daily * 1e6) / Math.round(epsilon * 1e6));
    const windowsADay = windowSeconds === undefined ? undefined : Math.floor(SECONDS_A_DAY / windowSeconds);
    const covers =
      windowsADay === undefined
        ? ""
        : releases >= windowsADay
          ? `, enough for every one of the ${windowsADay} windows of a day`
          : `, fewer than the ${windowsADay} windows of a day: once it is spent, the rest of the day's counts are withheld ("budget exhausted") until midnight UTC`;
    out.push({
      parameter: "dailyEpsilon",
      value: daily,
      sentences: [
        `The daily budget is ε = ${decimal(daily)} per calendar day (UTC): it pays for ${releases} published count${releases === 1 ? "" : "s"}${covers}.`,
        `Someone who is here all day can be counted in each of those windows, and the protection adds up window by window, up to the daily budget: over one day, everything published can change the odds about them by a factor of at most ${oddsFactor(daily)}. ${dayVerdict(daily)} (A stay across midnight UTC draws on two days' budgets.)`,
      ],
    });
  }
  return out;
}

/** "1 or 2", "1 to 4", "1". */
function smallCounts(k: number): string {
  const top = Math.ceil(k) - 1;
  return top === 1 ? "1" : top === 2 ? "1 or 2" : `1 to ${top}`;
}

/** Who a channel's counts are about, in words. */
function subjectOf(dataType: string | undefined): { one: string; person: string; example: (delta: number) => string } {
  switch (dataType) {
    case "vehicle-count":
      return { one: "vehicle", person: "vehicle", example: (delta) => (delta === 1 ? " (passing once)" : "") };
    case "device-count":
      return { one: "device", person: "person", example: () => " (with several devices, each of which may change its Bluetooth address)" };
    case "people-count":
      return { one: "person", person: "person", example: (delta) => (delta > 1 ? ` (entering the sensor's zone up to ${delta} times)` : "") };
    default:
      return { one: "person", person: "person", example: () => "" };
  }
}

/** The smallest m with P(|Z| <= m) >= SPREAD_SHARE for discrete Laplace noise of scale Δ/ε. */
export function noiseSpread(epsilon: number, delta: number): number {
  const p = Math.exp(-epsilon / delta);
  // 1 - 2p^(m+1)/(1+p) >= share  <=>  m + 1 >= ln((1 - share)(1 + p) / 2) / ln p
  const m = Math.ceil(Math.log(((1 - SPREAD_SHARE) * (1 + p)) / 2) / Math.log(p) - 1e-9) - 1;
  return Math.max(0, m);
}

/** e^x in words: "e^0.5 ≈ 1.65", or the number of its digits when it is astronomical. */
export function oddsFactor(x: number): string {
  const exponent = `e^${decimal(x)}`;
  if (x <= Math.log(1000)) return `${exponent} ≈ ${Number(Math.exp(x).toPrecision(3))}`;
  return `${exponent}, a number with ${Math.floor(x / Math.LN10) + 1} digits`;
}

function dayVerdict(daily: number): string {
  if (daily <= Math.log(3)) return "Even a whole day of counts says little about any one person.";
  if (daily <= Math.log(100)) return "That is a limited protection: a whole day of counts can make an observer much surer whether someone stayed, though never certain.";
  return 'That is no real limit: over a whole day, the noise alone does not hide whether someone was here. What still protects them is that the counts never say who anyone is and that no identifier is kept (see "What it never collects").';
}

/** 0.5 -> "0.5", 144 -> "144", 1/3 -> "0.333". */
function decimal(x: number): string {
  return String(Number(x.toFixed(3)));
}
