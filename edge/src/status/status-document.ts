// The JSON a running agent serves at GET /status (and `tidemark-edge doctor` reads back). It extends the
// retained MQTT status message with what only a local field tech needs: link state and per-source health.
import type { RecentError } from '../sources/serial/recent-errors.js';
import type { DeviceStatus } from '../uplink/mqtt-uplink.js';

export interface SourceStatus {
  name: string;
  type: string;
  /** `open` / `running` when reading normally (see HEALTHY_SOURCE_STATES); e.g. `disconnected` otherwise. */
  state: string;
  /** Refused lines since start, and the last few (oldest first: SerialSource.recentErrors()). */
  parse_errors?: number;
  recent_parse_errors?: RecentError[];
  /**
   * Serial: after the last open, true once the line was seen idle (its first line is kept whole), false if
   * bytes were already arriving (the first segment was refused as possibly cut); absent while undecided.
   */
  line_idle_at_open?: boolean;
}

export interface AgentStatusDocument extends DeviceStatus {
  device: string;
  /** MQTT session to the collector is up. */
  connected: boolean;
  sources: SourceStatus[];
}

/** Source states that mean "reading normally"; anything else is shown as a warning by doctor. */
export const HEALTHY_SOURCE_STATES: ReadonlySet<string> = new Set(['open', 'running', 'reading', 'connected', 'ok', 'started']);
