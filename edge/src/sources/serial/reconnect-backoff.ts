// Kept for the sources that import it (serial, Modbus): the edge's one reconnect policy lives in
// runner/backoff.ts. Same rule, same signature: exponential with full jitter, always within [minMs, maxMs].
export { backoffDelay as reconnectDelay } from '../../runner/backoff.js';
