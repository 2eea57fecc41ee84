// SPEC.md's ACL: a device publishes only under its own tidemark/v1/<device>/ (batch, status) and
// subscribes only to its own ack topic. The client id must equal the username (= device id).
import { isValidName, topics } from '@tidemark/proto';

export function mayPublish(clientId: string, topic: string): boolean {
  const t = topics.parse(topic);
  return t !== undefined && t.device === clientId && (t.kind === 'batch' || t.kind === 'status');
}

export function maySubscribe(clientId: string, topic: string): boolean {
  return topic === topics.ack(clientId);
}

export function identityProblem(clientId: string, username: string | undefined): string | undefined {
  if (!isValidName(clientId)) return `client id "${clientId}" is not a valid device id`;
  if (username !== undefined && username !== clientId) return `username "${username}" does not match client id "${clientId}"`;
  return undefined;
}
