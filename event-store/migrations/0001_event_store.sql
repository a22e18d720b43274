-- Event store (DESIGN §3, §7). Append-only: the application role may only SELECT and INSERT.

CREATE TABLE events (
    global_position  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id   xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id         uuid        NOT NULL UNIQUE,
    stream_type      text        NOT NULL,
    stream_id        uuid        NOT NULL,
    stream_version   bigint      NOT NULL CHECK (stream_version >= 1),
    event_type       text        NOT NULL,
    event_version    integer     NOT NULL CHECK (event_version >= 1),
    payload          jsonb       NOT NULL,
    actor            text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    origin           text        NOT NULL,
    correlation_id   uuid        NOT NULL,
    causation_id     uuid        NOT NULL,
    command_id       uuid        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    previous_hash    bytea       NOT NULL CHECK (length(previous_hash) = 32),
    hash             bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

-- The gap-free reader's cursor order.
CREATE INDEX events_cursor_idx ON events (transaction_id, global_position);

-- Ticket numbers are unique; `itsm events 2026-000123` finds a stream by number.
CREATE UNIQUE INDEX events_ticket_number_idx ON events ((payload ->> 'number'))
    WHERE event_type = 'ticket.opened';

-- Defence in depth beside the missing grants: nobody, not even the owner, rewrites history
-- without first disabling this trigger as a superuser.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- Commands already applied, so that a retry with the same command id appends nothing and
-- returns the first result.
CREATE TABLE processed_commands (
    command_id      uuid        PRIMARY KEY,
    stream_id       uuid        NOT NULL,
    last_version    bigint      NOT NULL,
    last_position   bigint      NOT NULL,
    last_transaction_id xid8    NOT NULL,
    result          jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Per-year ticket number counters (numbers are unique and increasing; a failed open leaves a gap).
CREATE TABLE ticket_number_counters (
    year        integer PRIMARY KEY,
    last_value  integer NOT NULL
);

-- Per data subject encryption keys (crypto-shredding, DESIGN §7). `wrapped_key` is the subject's
-- AES-256 key encrypted with the master key; erasure deletes the key.
CREATE TABLE data_subject_keys (
    subject_id   uuid        PRIMARY KEY,
    subject_ref  bytea       NOT NULL UNIQUE,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    erased_at    timestamptz
);

-- API tokens (stored as SHA-256 of the secret; the secret is shown once).
CREATE TABLE api_tokens (
    token_id    uuid        PRIMARY KEY,
    token_hash  bytea       NOT NULL UNIQUE,
    user_name   text        NOT NULL,
    roles       text[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);

-- The application role (created by deploy/ or the test harness) may read and append, never rewrite.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT ON events TO itsm_app;
        GRANT SELECT, INSERT ON processed_commands TO itsm_app;
        GRANT SELECT, INSERT, UPDATE ON ticket_number_counters TO itsm_app;
        GRANT SELECT, INSERT ON data_subject_keys TO itsm_app;
        GRANT SELECT, INSERT, UPDATE ON api_tokens TO itsm_app;
    END IF;
END $$;
