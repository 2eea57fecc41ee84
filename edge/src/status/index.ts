// The agent's local status endpoint and the document it serves.
export { StatusServer, type StatusServerOptions } from './status-server.js';
export { HEALTHY_SOURCE_STATES, type AgentStatusDocument, type SourceStatus } from './status-document.js';
export { sourceStatuses } from './source-status.js';
