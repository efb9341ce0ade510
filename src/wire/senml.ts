/**
 * SenML packs (RFC 8428) in their CBOR representation (section 6: integer labels).
 *
 * A civicnode summary is one pack: the first record carries the base name (device id + "/") and the
 * base time (window start, Unix seconds); every record names one released statistic as
 * "<channel>/<stat>" with its SenML unit and a numeric value `v`, or a status string `vs`
 * ("missing", "suppressed", ...) where no value is released.
 */
import type { CborWriter } from "./cbor-writer.js";
import { CborDecodeError, decodeCbor } from "./cbor-reader.js";

/** RFC 8428 Table 4 (CBOR labels). */
export const SENML_LABEL = {
  bver: -1,
  bn: -2,
  bt: -3,
  bu: -4,
  bv: -5,
  bs: -6,
  n: 0,
  u: 1,
  v: 2,
  vs: 3,
  vb: 4,
  s: 5,
  t: 6,
  ut: 7,
  vd: 8,
} as const;

/** One record to encode; exactly one of `value` and `status` is set. */
export interface SenmlRecordOut {
  readonly name: string;
  readonly unit?: string | undefined;
  readonly value?: number | undefined;
  readonly status?: string | undefined;
  /** Time relative to the base time, seconds (SenML `t`); left out when undefined. */
  readonly time?: number | undefined;
}

/** Name of the record that pads a pack to a fixed size; readers skip it. */
export const PADDING_RECORD = "pad";

/**
 * Writes a pack: `[{bn, bt, n, ...}, {n, ...}, ...]`. With `padToBytes`, a last record
 * `{n: "pad", vd: h'00...'}` makes the encoded pack exactly that long, so that its length (and the
 * ciphertext's) says nothing about the values inside.
 */
export function writeSenmlPack(writer: CborWriter, baseName: string, baseTimeSeconds: number, records: readonly SenmlRecordOut[], padToBytes = 0): void {
  if (records.length === 0) throw new RangeError("a SenML pack needs at least one record");
  const start = writer.length;
  if (padToBytes > 0) {
    writeRecords(writer, baseName, baseTimeSeconds, records, records.length + 1);
    const fit = paddingFor(padToBytes - (writer.length - start));
    if (fit === undefined) throw new RangeError(`SenML pack of ${writer.length - start} bytes does not fit the padded size ${padToBytes}`);
    writer.map(fit.withTime ? 3 : 2).int(SENML_LABEL.n).text(PADDING_RECORD);
    if (fit.withTime) writer.int(SENML_LABEL.t).int(0);
    writer.int(SENML_LABEL.vd).bytes(new Uint8Array(fit.zeros));
    return;
  }
  writeRecords(writer, baseName, baseTimeSeconds, records, records.length);
}

/**
 * The pad record that takes exactly `bytes`: {0: "pad", 8: h'00..'} is 7 bytes plus the byte
 * string's head (1-3 bytes) and its zeros. Where a head size boundary leaves a one-byte gap, the
 * record also carries t = 0 (two bytes), which changes nothing for a reader.
 */
function paddingFor(bytes: number): { zeros: number; withTime: boolean } | undefined {
  for (const withTime of [false, true]) {
    const fixed = 7 + (withTime ? 2 : 0);
    for (const head of [1, 2, 3]) {
      const zeros = bytes - fixed - head;
      if (zeros >= 0 && (zeros < 24 ? 1 : zeros < 256 ? 2 : 3) === head) return { zeros, withTime };
    }
  }
  return undefined;
}

function writeRecords(writer: CborWriter, baseName: string, baseTimeSeconds: number, records: readonly SenmlRecordOut[], count: number): void {
  writer.array(count);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const hasValue = record.value !== undefined;
    if (hasValue === (record.status !== undefined)) throw new RangeError(`record ${record.name} needs exactly one of value and status`);
    const pairs = (i === 0 ? 2 : 0) + 2 + (record.unit !== undefined ? 1 : 0) + (record.time !== undefined ? 1 : 0);
    writer.map(pairs);
    if (i === 0) {
      writer.int(SENML_LABEL.bn).text(baseName);
      writer.int(SENML_LABEL.bt).number(baseTimeSeconds);
    }
    writer.int(SENML_LABEL.n).text(record.name);
    if (record.unit !== undefined) writer.int(SENML_LABEL.u).text(record.unit);
    if (record.time !== undefined) writer.int(SENML_LABEL.t).number(record.time);
    if (hasValue) writer.int(SENML_LABEL.v).number(record.value!);
    else writer.int(SENML_LABEL.vs).text(record.status!);
  }
}

/** A record as a SenML reader resolves it (RFC 8428 section 4.6). */
export interface SenmlRecord {
  readonly name: string;
  readonly unit?: string;
  readonly value?: number;
  readonly stringValue?: string;
  readonly booleanValue?: boolean;
  readonly dataValue?: Uint8Array;
  readonly sum?: number;
  /** Absolute time in seconds (base time + time). */
  readonly time: number;
}

export class SenmlError extends Error {
  override name = "SenmlError";
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:./_-]*$/;

/** Decodes and resolves a CBOR SenML pack; throws SenmlError for anything that is not valid SenML. */
export function readSenmlPack(bytes: Uint8Array): SenmlRecord[] {
  let pack;
  try {
    pack = decodeCbor(bytes, { maxDepth: 3 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new SenmlError(`not CBOR: ${error.message}`);
    throw error;
  }
  if (!Array.isArray(pack)) throw new SenmlError("a SenML pack is an array");
  let baseName = "";
  let baseTime = 0;
  let baseUnit: string | undefined;
  let baseValue = 0;
  let baseSum = 0;
  const records: SenmlRecord[] = [];
  for (const entry of pack) {
    if (!(entry instanceof Map)) throw new SenmlError("a SenML record is a map");
    for (const label of entry.keys()) {
      if (typeof label !== "number" || label < -6 || label > 8) throw new SenmlError(`unknown SenML label ${String(label)}`);
    }
    const get = (label: number) => entry.get(label);
    const bver = get(SENML_LABEL.bver);
    if (bver !== undefined && (typeof bver !== "number" || bver > 10)) throw new SenmlError("unsupported SenML version");
    baseName = optionalText(get(SENML_LABEL.bn), "bn") ?? baseName;
    baseTime = optionalNumber(get(SENML_LABEL.bt), "bt") ?? baseTime;
    baseUnit = optionalText(get(SENML_LABEL.bu), "bu") ?? baseUnit;
    baseValue = optionalNumber(get(SENML_LABEL.bv), "bv") ?? baseValue;
    baseSum = optionalNumber(get(SENML_LABEL.bs), "bs") ?? baseSum;

    const name = baseName + (optionalText(get(SENML_LABEL.n), "n") ?? "");
    if (!NAME_PATTERN.test(name)) throw new SenmlError(`invalid SenML name ${JSON.stringify(name)}`);
    const unit = optionalText(get(SENML_LABEL.u), "u") ?? baseUnit;
    const v = optionalNumber(get(SENML_LABEL.v), "v");
    const vs = optionalText(get(SENML_LABEL.vs), "vs");
    const vb = get(SENML_LABEL.vb);
    if (vb !== undefined && typeof vb !== "boolean") throw new SenmlError("vb must be a boolean");
    const vd = get(SENML_LABEL.vd);
    if (vd !== undefined && !(vd instanceof Uint8Array)) throw new SenmlError("vd must be a byte string");
    const s = optionalNumber(get(SENML_LABEL.s), "s");
    const valueCount = [v, vs, vb, vd].filter((x) => x !== undefined).length;
    if (valueCount > 1) throw new SenmlError(`record ${name} has more than one value`);
    if (valueCount === 0 && s === undefined) throw new SenmlError(`record ${name} has no value`);
    const t = optionalNumber(get(SENML_LABEL.t), "t") ?? 0;
    records.push({
      name,
      ...(unit !== undefined ? { unit } : {}),
      ...(v !== undefined ? { value: baseValue + v } : {}),
      ...(vs !== undefined ? { stringValue: vs } : {}),
      ...(vb !== undefined ? { booleanValue: vb } : {}),
      ...(vd !== undefined ? { dataValue: vd } : {}),
      ...(s !== undefined ? { sum: baseSum + s } : {}),
      time: baseTime + t,
    });
  }
  return records;
}

function optionalText(value: unknown, label: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new SenmlError(`${label} must be text`);
  return value;
}

function optionalNumber(value: unknown, label: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new SenmlError(`${label} must be a finite number`);
  return value;
}
