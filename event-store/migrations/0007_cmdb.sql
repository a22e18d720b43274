-- CMDB (issue 5): assets, their relations with history, inventory sources and imports, and the
-- assets a ticket names. Expand only: new tables and indexes; the old configuration index is
-- replaced by one that also covers asset classes.

-- Configuration (now with asset classes) stays read straight from the store. The reader's WHERE
-- clause repeats the list literally so the planner can use the index.
CREATE INDEX events_config_v2_idx ON events (stream_type, stream_id, stream_version)
    WHERE stream_type IN ('queue', 'category', 'service', 'calendar', 'sla_policy', 'asset_class');
DROP INDEX events_config_idx;

-- The inventory import loads the current state of every asset (and its source's import runs)
-- from the store, independent of the number of ticket events.
CREATE INDEX events_asset_idx ON events (stream_id, stream_version)
    WHERE stream_type = 'asset';
CREATE INDEX events_asset_import_idx ON events (stream_id, stream_version)
    WHERE stream_type = 'asset_import';

-- One row per asset: its current state, and the columns lists filter and sort on.
CREATE TABLE rm_assets (
    generation        integer     NOT NULL,
    asset_id          uuid        NOT NULL,
    version           bigint      NOT NULL,
    class             text        NOT NULL,
    name              text        NOT NULL,
    inventory_number  text,
    serial_number     text,
    location          text,
    user_name         text,
    owner             text,
    cost_centre       text,
    attributes        jsonb       NOT NULL,
    lifecycle         text        NOT NULL,
    -- source name → {"external_id", "missing"}
    sources           jsonb       NOT NULL,
    missing           boolean     NOT NULL,
    registered_at     timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    search            tsvector    NOT NULL,
    last_tx           bigint      NOT NULL,
    last_position     bigint      NOT NULL,
    PRIMARY KEY (generation, asset_id)
);
CREATE INDEX rm_assets_list_idx ON rm_assets (generation, name, asset_id);
CREATE INDEX rm_assets_class_idx ON rm_assets (generation, class, name, asset_id);
CREATE INDEX rm_assets_lifecycle_idx ON rm_assets (generation, lifecycle, name, asset_id);
CREATE INDEX rm_assets_location_idx ON rm_assets (generation, location, name);
CREATE INDEX rm_assets_user_idx ON rm_assets (generation, user_name, name);
CREATE INDEX rm_assets_attributes_idx ON rm_assets USING gin (attributes jsonb_path_ops);
CREATE INDEX rm_assets_search_idx ON rm_assets USING gin (search);

-- Every relation with the time it held: valid_from ≤ t < valid_to (open while valid_to is null).
-- Recorded on the source asset, read from both ends.
CREATE TABLE rm_asset_relations (
    generation     integer     NOT NULL,
    source_id      uuid        NOT NULL,
    relation       text        NOT NULL,
    target_id      uuid        NOT NULL,
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz,
    from_version   bigint      NOT NULL,
    PRIMARY KEY (generation, source_id, relation, target_id, from_version)
);
CREATE INDEX rm_asset_relations_target_idx ON rm_asset_relations (generation, target_id);

-- Every change of an asset, one row per event.
CREATE TABLE rm_asset_history (
    generation   integer     NOT NULL,
    asset_id     uuid        NOT NULL,
    version      bigint      NOT NULL,
    event_type   text        NOT NULL,
    actor        text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    change       jsonb       NOT NULL,
    PRIMARY KEY (generation, asset_id, version)
);

-- When each source last delivered each of its assets, and how many runs it has missed since.
-- A row starts at its registration with last_seen_run 0 (no run completed since); the run's
-- record then marks it seen.
CREATE TABLE rm_asset_sources (
    generation     integer     NOT NULL,
    source         text        NOT NULL,
    asset_id       uuid        NOT NULL,
    external_id    text        NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    last_seen_run  bigint      NOT NULL,
    missed_runs    integer     NOT NULL,
    PRIMARY KEY (generation, source, asset_id)
);
CREATE INDEX rm_asset_sources_asset_idx ON rm_asset_sources (generation, asset_id);

-- Every import run and its report.
CREATE TABLE rm_asset_imports (
    generation   integer     NOT NULL,
    source       text        NOT NULL,
    run          bigint      NOT NULL,
    actor        text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    report       jsonb       NOT NULL,
    PRIMARY KEY (generation, source, run)
);
-- The most recent runs first (`GET /api/v1/imports`).
CREATE INDEX rm_asset_imports_recent_idx ON rm_asset_imports (generation, occurred_at DESC);

-- The assets a ticket names (written by the tickets projection, in its generation).
CREATE TABLE rm_ticket_assets (
    generation  integer     NOT NULL,
    ticket_id   uuid        NOT NULL,
    asset_id    uuid        NOT NULL,
    linked_at   timestamptz NOT NULL,
    PRIMARY KEY (generation, ticket_id, asset_id)
);
CREATE INDEX rm_ticket_assets_asset_idx ON rm_ticket_assets (generation, asset_id);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON rm_assets, rm_asset_relations, rm_asset_history,
            rm_asset_sources, rm_asset_imports, rm_ticket_assets TO itsm_app;
    END IF;
END $$;
