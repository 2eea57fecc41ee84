// The webhook receiver for end-to-end tests lives beside the notifiers (cloud/src/alerts/notify/testing) so
// their unit tests use the same one; this is its home for test/.
export { WebhookReceiver, type ReceivedWebhook, type BadSignature, type WebhookReceiverOptions } from '../../cloud/src/alerts/notify/testing/webhook-receiver.js';
export { signWebhook, verifyWebhook } from '../../cloud/src/alerts/notify/standard-webhooks.js';
