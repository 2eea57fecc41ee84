// The metrics every source kind shares, defined once: `tidemark_edge_source_*{source}`. Serial, GPIO and
// Modbus report their input's state and losses here, whatever the protocol; what only one protocol has
// (serial lines framed, GPIO raw edges, Modbus requests per slave) keeps its own prefixed name.
import type { MetricsRegistry } from '@tidemark/shared';

/** 1 while the source has its input open (port, bus, gpiomon), 0 while it is (re)opening it or stopped. */
export function sourceConnected(metrics: MetricsRegistry) {
  return metrics.gauge('source_connected', 'Whether the source has its input open (1) or is re-opening it (0)', ['source']);
}

/** Times a source lost its open input (unplugged port, dropped Modbus connection, gpiomon exit) and set about re-opening it. */
export function sourceReconnects(metrics: MetricsRegistry) {
  return metrics.counter('source_reconnects_total', 'Times a source lost its open input and set about re-opening it', ['source']);
}

/** Lines or values a source refused, by reason (parsers, framing). */
export function sourceParseErrors(metrics: MetricsRegistry) {
  return metrics.counter('source_parse_errors_total', 'Lines or values refused by a source, by reason', ['source', 'reason']);
}
