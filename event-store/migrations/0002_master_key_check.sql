-- A fingerprint of the master key the database's personal data is encrypted with, so that a
-- server started with another key (a lost or regenerated itsm.toml) refuses to start instead of
-- failing on some requests later.
CREATE TABLE master_key_check (
    id           integer     PRIMARY KEY CHECK (id = 1),
    fingerprint  bytea       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT ON master_key_check TO itsm_app;
    END IF;
END $$;
