-- Store-wide tamper evidence (DESIGN §7, ADR 0007): signed checkpoints over a running root hash
-- of every event in cursor order. Append-only like the events they anchor.

CREATE TABLE audit_checkpoints (
    sequence         bigint      PRIMARY KEY CHECK (sequence >= 1),
    -- The cursor of the last event the checkpoint covers.
    transaction_id   xid8        NOT NULL,
    global_position  bigint      NOT NULL,
    -- How many events lie at or before that cursor, and the running root over their hashes:
    -- root_0 = 32 zero bytes, root_n = SHA-256(root_(n-1) ‖ hash_n).
    event_count      bigint      NOT NULL CHECK (event_count >= 1),
    root_hash        bytea       NOT NULL CHECK (length(root_hash) = 32),
    created_at       timestamptz NOT NULL,
    -- Ed25519 over the canonical JSON of the fields above (schemas/README.md).
    public_key       bytea       NOT NULL CHECK (length(public_key) = 32),
    signature        bytea       NOT NULL CHECK (length(signature) = 64)
);

CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT ON audit_checkpoints TO itsm_app;
    END IF;
END $$;
