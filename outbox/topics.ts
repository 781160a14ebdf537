export const DEFAULT_TOPIC_PREFIX = 'outbox.event.';
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's own rule (kafka.common.internals.Topic): ASCII alphanumerics, '.', '_', '-', at most 249, not '.' or '..'. */
export function isLegalTopic(topic: string): boolean {
  return LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..';
}
