import diagnostics from 'node:diagnostics_channel';

/**
 * Telemetry channels of the database layer, so Prometheus histograms can subscribe without this layer
 * depending on them. Messages carry the statement's name, never its SQL or parameters. Publishing is
 * skipped while nobody subscribes, so the query path pays one property read.
 *
 * - `opusclip:db:query`: `{ name, durationMs }` once per statement (successful or not).
 * - `opusclip:db:acquire`: `{ waitMs }` once per pooled connection handed out (0 when one was idle).
 * - `opusclip:db:slow-query`: `{ name, durationMs }` once per statement at or over the slow-query
 *   threshold (sampled or not), where `createDatabase({ slowQueries })` is on.
 */
export const dbChannels = {
  query: diagnostics.channel('opusclip:db:query'),
  acquire: diagnostics.channel('opusclip:db:acquire'),
  slowQuery: diagnostics.channel('opusclip:db:slow-query'),
} as const;
