/**
 * The public page's explanations of a node's privacy parameters: each cites the disclosure's own
 * figures; the spread of the noise it quotes is the node's sampler's (the real DiscreteLaplace at
 * a fixed seed); the bound for a day is the daily budget and says when that bound means nothing.
 * And the disclosure reader: what the page reads of the node's own disclosure (built by the node's
 * code from the reference policy), including the window and the pseudonym key's lifetime, which
 * version 2 states only in its sentences, and nothing guessed from a document of the wrong shape.
 */
import { describe, expect, it } from "vitest";
import REFERENCE from "../../../../src/policy/reference-street.policy.json" with { type: "json" };
import { SeededRandom } from "../../../../hosts/sim/prng.js";
import { DiscreteLaplace } from "../../../../src/privacy/discrete-laplace.js";
import { durationAdjective, durationWords } from "../../../../hosts/collector/web/disclosure-words.js";
import { noiseSpread, oddsFactor, privacyExplanations } from "../../../../hosts/collector/web/privacy-sentences.js";
import { DisclosureReadError, readDisclosure } from "../../../../hosts/collector/web/public-disclosure.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";
import { disclosureDocument, signedPolicy } from "./public-street.js";

const DOCUMENT = disclosureDocument("lamp-1", signedPolicy("lamp-1", 1));
const PROTECTED = REFERENCE.channels.filter((c) => c.privacy);

/** P(|Z| <= m) for discrete Laplace noise of scale Δ/ε. */
const within = (m: number, epsilon: number, delta: number) => {
  const p = Math.exp(-epsilon / delta);
  return 1 - (2 * p ** (m + 1)) / (1 + p);
};

describe("the noise a page quotes", () => {
  it.each([
    [0.5, 2],
    [0.5, 1],
    [0.5, 6],
    [1, 1],
    [0.1, 3],
    [2, 1],
  ])("ε %s, Δ %s: the smallest spread that holds in at least 3 windows out of 4", (epsilon, delta) => {
    const m = noiseSpread(epsilon, delta);
    expect(within(m, epsilon, delta)).toBeGreaterThanOrEqual(0.75);
    if (m > 0) expect(within(m - 1, epsilon, delta)).toBeLessThan(0.75);
  });

  it("is the node's own sampler's: 40,000 draws at a fixed seed fall within it about as often as quoted", () => {
    const sampler = new DiscreteLaplace(new SeededRandom("public-page-spread"));
    for (const { privacy } of PROTECTED) {
      const m = noiseSpread(privacy!.epsilon, privacy!.sensitivity);
      let inside = 0;
      const draws = 40_000;
      for (let i = 0; i < draws; i++) if (Math.abs(sampler.noise(privacy!.sensitivity, privacy!.epsilon * 1000)) <= m) inside++;
      // Binomial standard error at 40,000 draws is 0.0022: 5 of them either side of the exact share.
      expect(Math.abs(inside / draws - within(m, privacy!.epsilon, privacy!.sensitivity))).toBeLessThan(0.011);
    }
  });

  it("writes e^x as a number while it is one, and by its digits when it is astronomical", () => {
    expect(oddsFactor(0.5)).toBe("e^0.5 ≈ 1.65");
    expect(oddsFactor(1)).toBe("e^1 ≈ 2.72");
    expect(oddsFactor(144)).toBe("e^144, a number with 63 digits");
    expect(String(Math.exp(144)).split("e+")[1]).toBe("62");
  });
});

describe("a channel's privacy, explained", () => {
  const people = readDisclosure(utf8Encode(JSON.stringify(DOCUMENT))).dataTypes.find((c) => c.channel === "people")!;
  const window = REFERENCE.windowSeconds;

  it("explains every parameter the disclosure states, with its figures", () => {
    for (const { name, privacy } of PROTECTED) {
      const channel = DOCUMENT.dataTypes.find((c) => c.channel === name)!;
      const explanations = privacyExplanations(readDisclosure(utf8Encode(JSON.stringify({ dataTypes: [channel] }))).dataTypes[0]!, window);
      const daily = Math.round(privacy!.epsilon * (86_400 / window) * 1000) / 1000;
      expect(explanations.map((e) => [e.parameter, e.value])).toEqual([
        ["kAnonymity", privacy!.k],
        ["sensitivity", privacy!.sensitivity],
        ["epsilonPerRelease", privacy!.epsilon],
        ["dailyEpsilon", daily],
      ]);
      const text = (parameter: string) => explanations.find((e) => e.parameter === parameter)!.sentences.join(" ");
      expect(text("kAnonymity")).toContain(`Counts below ${privacy!.k} are never published`);
      expect(text("sensitivity")).toContain(`by at most ${privacy!.sensitivity}`);
      expect(text("epsilonPerRelease")).toContain(`ε = ${privacy!.epsilon}`);
      expect(text("epsilonPerRelease")).toContain(`within ${noiseSpread(privacy!.epsilon, privacy!.sensitivity)} of the true count`);
      expect(text("dailyEpsilon")).toContain(`ε = ${daily} per calendar day`);
      expect(text("dailyEpsilon")).toContain(`${Math.floor(daily / privacy!.epsilon)} published counts, enough for every one of the 288 windows of a day`);
    }
  });

  it("tells the passer-by from who stays all day, honestly", () => {
    const [, , epsilon, daily] = privacyExplanations(people, window);
    expect(epsilon!.sentences.at(-1)).toBe(
      'For someone walking past once, in one 5-minute window (ε = 0.5): whatever an observer knew before, that window\'s published count can change the odds they give to "this person was here then" by a factor of at most e^0.5 ≈ 1.65. If the walk falls across two windows, by at most e^1 ≈ 2.72.',
    );
    expect(daily!.sentences[1]).toContain("by a factor of at most e^144, a number with 63 digits. That is no real limit");
    const small = privacyExplanations({ ...people, privacy: { ...people.privacy, dailyEpsilon: 1 } }, window);
    expect(small.at(-1)!.sentences[0]).toContain('it pays for 2 published counts, fewer than the 288 windows of a day: once it is spent, the rest of the day\'s counts are withheld ("budget exhausted")');
    expect(small.at(-1)!.sentences[1]).toContain("e^1 ≈ 2.72. Even a whole day of counts says little about any one person.");
  });

  it("says what a channel without noise or without k does, and leaves out what it does not state", () => {
    const bare = privacyExplanations({ ...people, privacy: { kAnonymity: 0, epsilonPerRelease: 0 } }, window);
    expect(bare.map((e) => e.sentences[0])).toEqual([
      "No count is withheld for being small on this channel (k-anonymity is off).",
      "No random noise is added to this channel's counts (ε = 0): a published count is the exact count.",
    ]);
    expect(privacyExplanations({ ...people, privacy: {} }, window)).toEqual([]);
    expect(privacyExplanations({ channel: "noise", released: ["leq"] }, window)).toEqual([]);
    expect(privacyExplanations(people, undefined)[2]!.sentences.at(-1)).toContain("in one window (ε = 0.5)");
  });

  it("names small counts as a resident would", () => {
    const k = (n: number) => privacyExplanations({ ...people, privacy: { kAnonymity: n } }, window)[0]!.sentences[0];
    expect(k(2)).toContain('a window that counted 1 shows "withheld"');
    expect(k(3)).toContain('a window that counted 1 or 2 shows "withheld"');
    expect(k(5)).toContain('a window that counted 1 to 4 shows "withheld"');
  });

  it("words durations", () => {
    expect([durationWords(300), durationWords(60), durationWords(90), durationWords(3600), durationWords(86_400)]).toEqual(["5 minutes", "1 minute", "90 seconds", "1 hour", "24 hours"]);
    expect([durationAdjective(300), durationAdjective(90), durationAdjective(3600)]).toEqual(["5-minute", "90-second", "1-hour"]);
  });
});

describe("the disclosure, read for the page", () => {
  it("reads the node's own disclosure whole, the window and the pseudonym key's lifetime from its sentences", () => {
    const read = readDisclosure(utf8Encode(JSON.stringify(DOCUMENT)));
    expect(read.windowSeconds).toBe(REFERENCE.windowSeconds);
    expect(read.pseudonymEpochSeconds).toBe(REFERENCE.pseudonymEpochSeconds);
    expect(read.accountable).toEqual(REFERENCE.accountable);
    expect(read.purposes).toEqual(REFERENCE.purposes);
    expect(read.access).toEqual(REFERENCE.access);
    expect(read.retention).toMatchObject(REFERENCE.retention);
    expect(read.location.precisionMeters).toBe(REFERENCE.location.publishedPrecisionMeters);
    expect(read.dataTypes.map((c) => c.channel)).toEqual(REFERENCE.channels.map((c) => c.name));
    expect(read.dataTypes.map((c) => c.decimals)).toEqual(REFERENCE.channels.map((c) => c.decimals));
    expect(read.policy).toEqual(DOCUMENT.policy);
  });

  it("leaves out fields of the wrong type, and refuses what is not a JSON object", () => {
    const read = readDisclosure(
      utf8Encode(JSON.stringify({ accountable: { organisation: 7 }, purposes: ["a", 3, null], dataTypes: [{ channel: 5 }, { channel: "x", privacy: { kAnonymity: "3" } }], retention: { summariesDays: "forever" } })),
    );
    expect(read.accountable).toEqual({});
    expect(read.purposes).toEqual(["a"]);
    expect(read.dataTypes).toEqual([{ channel: "x", released: [], privacy: {} }]);
    expect(read.retention).toEqual({});
    expect(read.windowSeconds).toBeUndefined();
    for (const bytes of [utf8Encode("[1]"), utf8Encode("not json"), Uint8Array.of(0xff, 0xfe), utf8Encode("null")]) expect(() => readDisclosure(bytes)).toThrow(DisclosureReadError);
  });
});
