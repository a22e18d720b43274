-- Access configuration (issue 6): teams and organisation units are configuration items, read
-- straight from the store like the others. Expand only: the configuration index is replaced by
-- one that also covers their stream types.

-- The reader's WHERE clause (command-service `config::load`) repeats the list literally so the
-- planner can use the index.
CREATE INDEX events_config_v3_idx ON events (stream_type, stream_id, stream_version)
    WHERE stream_type IN ('queue', 'category', 'service', 'calendar', 'sla_policy', 'asset_class',
                          'org_unit', 'team');
DROP INDEX events_config_v2_idx;
