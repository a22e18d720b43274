-- Identity read model (issue 6 §1): one row per user account, written by the `identity`
-- projection, so a read resolves "the users in these organisation units" with one indexed
-- lookup (a requester granted `unit` visibility sees their unit's tickets). Expand only.

CREATE TABLE rm_users (
    generation         integer NOT NULL,
    user_name          text    NOT NULL,
    -- The organisation unit (an org-units configuration item's name); null when none.
    org_unit           text,
    roles              text[]  NOT NULL,
    disabled           boolean NOT NULL,
    -- `own` or `unit`: whose tickets the user sees as a requester.
    ticket_visibility  text    NOT NULL,
    version            bigint  NOT NULL,
    last_tx            bigint  NOT NULL,
    last_position      bigint  NOT NULL,
    PRIMARY KEY (generation, user_name)
);
CREATE INDEX rm_users_org_unit_idx ON rm_users (generation, org_unit);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON rm_users TO itsm_app;
    END IF;
END $$;
