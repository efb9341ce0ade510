/**
 * A node's disclosure document (src/policy/disclosure.ts, version 2) read for its public page:
 * every field the page shows, typed, from bytes that came off the broker. Verified or not, the
 * document is read as untrusted input: a field of the wrong type or missing is left out (the page
 * says "not stated"), never guessed, and a document that is not JSON is refused.
 *
 * Version 2 states the window length and the pseudonym key's lifetime only in its sentences
 * ("aggregated on the node into 300-second windows", "replaced every 300 seconds"), which the node
 * writes from its configuration: they are read from there, and test/hosts/collector/web/ checks
 * them against the node's own disclosure, so a change of wording cannot pass unseen.
 */

export interface DisclosedPrivacy {
  /** Counts in [1, k) are withheld. */
  readonly kAnonymity?: number;
  /** ε spent by one release. */
  readonly epsilonPerRelease?: number;
  /** Δ: the most one person changes one window's count. */
  readonly sensitivity?: number;
  /** ε a day at most (per UTC day). */
  readonly dailyEpsilon?: number;
}

export interface DisclosedDataType {
  readonly channel: string;
  readonly dataType?: string;
  readonly part?: string;
  readonly quantity?: string;
  /** SenML unit; "" for a count. */
  readonly unit?: string;
  readonly released: readonly string[];
  readonly decimals?: number;
  readonly meaning?: string;
  readonly privacy?: DisclosedPrivacy;
}

export interface ResidentDisclosure {
  readonly format?: string;
  readonly version?: number;
  readonly device?: string;
  readonly zone?: string;
  readonly policy: { readonly name?: string; readonly serial?: number; readonly sha256?: string };
  readonly accountable: { readonly organisation?: string; readonly contact?: string };
  readonly purposes: readonly string[];
  readonly location: { readonly latitude?: number; readonly longitude?: number; readonly precisionMeters?: number };
  readonly technology: readonly string[];
  readonly dataTypes: readonly DisclosedDataType[];
  readonly processing: readonly string[];
  readonly storage?: string;
  readonly access: ReadonlyArray<{ readonly who: string; readonly data: string }>;
  readonly retention: { readonly rawReadings?: string; readonly identifiers?: string; readonly summariesDays?: number; readonly healthDays?: number };
  /** The window length (s), from the processing sentences. */
  readonly windowSeconds?: number;
  /** How long a pseudonym key lives (s), from the processing sentences. */
  readonly pseudonymEpochSeconds?: number;
}

export class DisclosureReadError extends Error {
  override name = "DisclosureReadError";
}

/** The document in `bytes` (UTF-8 JSON); DisclosureReadError when it is not a JSON object. */
export function readDisclosure(bytes: Uint8Array): ResidentDisclosure {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new DisclosureReadError("the disclosure is not UTF-8 JSON");
  }
  if (!isRecord(document)) throw new DisclosureReadError("the disclosure is not a JSON object");
  const policy = record(document.policy);
  const accountable = record(document.accountable);
  const location = record(document.location);
  const retention = record(document.retention);
  const processing = texts(document.processing);
  return {
    ...optional("format", text(document.format)),
    ...optional("version", number(document.version)),
    ...optional("device", text(document.device)),
    ...optional("zone", text(document.zone)),
    policy: { ...optional("name", text(policy.name)), ...optional("serial", number(policy.serial)), ...optional("sha256", text(policy.sha256)) },
    accountable: { ...optional("organisation", text(accountable.organisation)), ...optional("contact", text(accountable.contact)) },
    purposes: texts(document.purposes),
    location: { ...optional("latitude", number(location.latitude)), ...optional("longitude", number(location.longitude)), ...optional("precisionMeters", number(location.precisionMeters)) },
    technology: texts(document.technology),
    dataTypes: list(document.dataTypes).flatMap((entry) => {
      const dataType = record(entry);
      const channel = text(dataType.channel);
      if (channel === undefined) return [];
      const privacy = isRecord(dataType.privacy) ? dataType.privacy : undefined;
      return [
        {
          channel,
          ...optional("dataType", text(dataType.dataType)),
          ...optional("part", text(dataType.part)),
          ...optional("quantity", text(dataType.quantity)),
          ...optional("unit", text(dataType.unit)),
          released: texts(dataType.released),
          ...optional("decimals", number(dataType.decimals)),
          ...optional("meaning", text(dataType.meaning)),
          ...(privacy
            ? {
                privacy: {
                  ...optional("kAnonymity", number(privacy.kAnonymity)),
                  ...optional("epsilonPerRelease", number(privacy.epsilonPerRelease)),
                  ...optional("sensitivity", number(privacy.sensitivity)),
                  ...optional("dailyEpsilon", number(privacy.dailyEpsilon)),
                },
              }
            : {}),
        },
      ];
    }),
    processing,
    ...optional("storage", text(document.storage)),
    access: list(document.access).flatMap((grant) => {
      const { who, data } = record(grant);
      return typeof who === "string" && typeof data === "string" ? [{ who, data }] : [];
    }),
    retention: {
      ...optional("rawReadings", text(retention.rawReadings)),
      ...optional("identifiers", text(retention.identifiers)),
      ...optional("summariesDays", number(retention.summariesDays)),
      ...optional("healthDays", number(retention.healthDays)),
    },
    ...optional("windowSeconds", secondsIn(processing, /\binto (\d{1,7})-second windows\b/)),
    ...optional("pseudonymEpochSeconds", secondsIn(processing, /\bpseudonyms \(a key held only in memory and replaced every (\d{1,7}) seconds\)/)),
  };
}

function secondsIn(sentences: readonly string[], pattern: RegExp): number | undefined {
  for (const sentence of sentences) {
    const seconds = Number(pattern.exec(sentence)?.[1]);
    if (Number.isSafeInteger(seconds) && seconds > 0) return seconds;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function texts(value: unknown): string[] {
  return list(value).filter((item): item is string => typeof item === "string");
}

function number(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** `{ [key]: value }`, or nothing when the value is absent (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
