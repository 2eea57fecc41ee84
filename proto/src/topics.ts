// MQTT topic names (SPEC "MQTT topics"): tidemark/v1/<device>/{batch,ack,status}.
import { isValidName, nameError } from './names.js';

export type TopicKind = 'batch' | 'ack' | 'status';

const ROOT = 'tidemark/v1' as const;
const KINDS: ReadonlySet<string> = new Set<TopicKind>(['batch', 'ack', 'status']);

function topicFor(device: string, kind: TopicKind): string {
  // A device id with `/`, `+` or `#` would address another device's topics or a wildcard.
  if (!isValidName(device)) throw nameError('device', device);
  return `${ROOT}/${device}/${kind}`;
}

export const topics: {
  batch(device: string): string;
  ack(device: string): string;
  status(device: string): string;
  parse(topic: string): { device: string; kind: TopicKind } | undefined;
  ROOT: 'tidemark/v1';
} = {
  ROOT,
  batch: (device) => topicFor(device, 'batch'),
  ack: (device) => topicFor(device, 'ack'),
  status: (device) => topicFor(device, 'status'),
  /** The device and kind of a Tidemark topic; undefined for anything else (never throws). */
  parse(topic) {
    if (typeof topic !== 'string') return undefined;
    const parts = topic.split('/');
    if (parts.length !== 4 || parts[0] !== 'tidemark' || parts[1] !== 'v1') return undefined;
    const device = parts[2]!;
    const kind = parts[3]!;
    if (!isValidName(device) || !KINDS.has(kind)) return undefined;
    return { device, kind: kind as TopicKind };
  },
};
