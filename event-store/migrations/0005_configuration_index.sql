-- Configuration items (queues, catalog, calendars, SLA policies; issue 4) are read straight from
-- the store. This partial index keeps that read independent of the number of ticket events; the
-- reader's WHERE clause repeats the list literally so the planner can use it.
CREATE INDEX events_config_idx ON events (stream_type, stream_id, stream_version)
    WHERE stream_type IN ('queue', 'category', 'service', 'calendar', 'sla_policy');
