/**
 * The API's answers as the dashboard reads them: the shapes of hosts/collector/api/api-schemas.ts
 * (the server validates and writes them; these only name their fields for the page's code).
 * Every string in them may come from a node and is shown as text, never as markup.
 */
export interface Location {
  readonly latitude: number;
  readonly longitude: number;
  readonly precisionMeters: number;
  readonly verified: boolean;
}

export type StreetState = "reporting" | "late" | "silent" | "sensor-faulty";

export interface StreetNode {
  readonly device: string;
  readonly zone: string;
  readonly status: "reporting" | "late" | "silent";
  readonly state: StreetState;
  readonly lastWindowStart: number | null;
  readonly lastWindowStartIso: string | null;
  readonly windowSeconds: number | null;
  readonly location: Location | null;
  readonly lastSeenAt: string | null;
  readonly health: { readonly time: number; readonly timeIso: string; readonly faultySensors: readonly string[]; readonly queue: number | null; readonly dropped: number | null } | null;
}

export interface Statistic {
  readonly channel: string;
  readonly stat: string;
  readonly value: number | null;
  readonly unit: string | null;
  readonly status: string | null;
}

export interface Summary {
  readonly device: string;
  readonly zone: string;
  readonly windowStart: number;
  readonly windowStartIso: string;
  readonly windowSeconds: number;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAt: string;
  readonly statistics: readonly Statistic[];
}

export interface SensorHealth {
  readonly status?: string;
  readonly readings?: number;
  readonly faults?: number;
  readonly drops: Readonly<Record<string, number>>;
}

export interface HealthReport {
  readonly time: number;
  readonly timeIso: string;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAt: string;
  readonly node: Readonly<Record<string, number>>;
  readonly budget: Readonly<Record<string, number>>;
  readonly commands: Readonly<Record<string, number>>;
  readonly audit: ReadonlyArray<{ readonly time: number; readonly entry: string }>;
  readonly sensors: Readonly<Record<string, SensorHealth>>;
}

export interface Alert {
  readonly time: string;
  readonly kind: string;
  readonly device?: string;
  readonly epoch?: number;
  readonly detail: string;
  readonly action: string;
}

export interface Command {
  readonly device: string;
  readonly name: string;
  readonly args: Readonly<Record<string, number | string>>;
  readonly counter: number;
  readonly sentAt: string;
  readonly outcome: string | null;
}

export interface RejectionCounts {
  readonly from: number;
  readonly to: number;
  readonly bucketSeconds: number;
  readonly buckets: ReadonlyArray<{ readonly start: number; readonly startIso: string; readonly counts: Readonly<Record<string, number>> }>;
}

export interface AuditFinding {
  readonly kind: "gap" | "rewrite" | "reset";
  readonly cause?: string;
  readonly how?: string;
  readonly chain: string;
  readonly from?: number;
  readonly to?: number;
  readonly seq?: number;
  readonly detail: string;
  readonly settled: boolean;
  readonly reportTimeIso: string;
}

export interface AuditTrail {
  readonly device: string;
  readonly reports: number;
  readonly chained: number;
  readonly holds: boolean;
  readonly findings: readonly AuditFinding[];
  readonly entries: ReadonlyArray<{ readonly chain: string; readonly seq: number; readonly time: number; readonly timeIso: string; readonly event: string; readonly detail: string }>;
  readonly entriesTotal: number;
  readonly truncated: boolean;
}

export interface PerReadingStream {
  readonly messages: number;
  readonly bytes: number;
  readonly sensors: ReadonlyArray<{ readonly sensor: string; readonly channels: readonly string[]; readonly readings: number; readonly topic: string; readonly example: string; readonly bytes: number }>;
  readonly uncounted: readonly string[];
}

export interface StoredMessage {
  readonly device: string;
  readonly kind: "summary" | "health";
  readonly topic: string;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAt: string;
  readonly sealedAt: number;
  readonly sealedAtIso: string;
  readonly bytes: number;
  readonly hex: string;
  readonly mqttPublishBytes: number;
  readonly envelope: {
    readonly coseTag: number;
    readonly algorithm: number;
    readonly kid: string;
    readonly kidDevice: string | null;
    readonly kidEpoch: number | null;
    readonly partialIv: string;
    readonly counter: number;
    readonly ciphertextBytes: number;
    readonly authTagBytes: number;
    readonly headerBytes: number;
  } | null;
  readonly summary: Summary | null;
  readonly health: HealthReport | null;
  readonly perReadingStream: PerReadingStream | null;
}

/** A channel's privacy parameters as the node's disclosure declares them (its dataTypes). */
export interface DisclosedPrivacy {
  readonly kAnonymity?: number;
  readonly epsilonPerRelease?: number;
  readonly sensitivity?: number;
  readonly dailyEpsilon?: number;
}

export interface Page<K extends string, T> {
  readonly cursor: string | null;
  readonly items: readonly T[];
  readonly key: K;
}
