/**
 * MQTT topics of a node: civicnode/<zone>/<device>/<kind>.
 * Zone and device ids are 1-32 characters of [a-z0-9-] starting with a letter or digit, so they can
 * never contain MQTT wildcards or separators.
 */

export type TopicKind = "summary" | "health" | "disclosure" | "cmd";

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
const TOPIC_PATTERN = /^civicnode\/([a-z0-9][a-z0-9-]{0,31})\/([a-z0-9][a-z0-9-]{0,31})\/(summary|health|disclosure|cmd)$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function nodeTopic(zone: string, device: string, kind: TopicKind): string {
  return `civicnode/${zone}/${device}/${kind}`;
}

export interface ParsedTopic {
  readonly zone: string;
  readonly device: string;
  readonly kind: TopicKind;
}

/** The parts of a civicnode topic, or undefined for any other topic. */
export function parseNodeTopic(topic: string): ParsedTopic | undefined {
  const match = TOPIC_PATTERN.exec(topic);
  if (!match) return undefined;
  return { zone: match[1]!, device: match[2]!, kind: match[3] as TopicKind };
}
