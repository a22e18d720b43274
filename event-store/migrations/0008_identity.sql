-- Identity (issue 6 §2): password credentials, login throttling and browser sessions.
-- Accounts themselves are event-sourced (`user` streams); these tables hold what must not be in
-- an event: secrets, kept only as hashes (Argon2id PHC strings for passwords, SHA-256 for session
-- ids and CSRF tokens), and fast-changing counters.

CREATE TABLE user_credentials (
    user_name     text PRIMARY KEY,
    -- Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), never the password.
    password_hash text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE login_attempts (
    user_name        text PRIMARY KEY,
    -- Failures within the window that began at `first_failure_at`.
    failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    first_failure_at timestamptz,
    locked_until     timestamptz
);

CREATE TABLE sessions (
    -- SHA-256 of the session id in the cookie; the id itself is never stored.
    session_hash        bytea PRIMARY KEY CHECK (length(session_hash) = 32),
    -- SHA-256 of the CSRF token handed out at login.
    csrf_hash           bytea NOT NULL CHECK (length(csrf_hash) = 32),
    user_name           text NOT NULL,
    roles               text[] NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz
);

CREATE INDEX sessions_user_name ON sessions (user_name);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON user_credentials, login_attempts, sessions
            TO itsm_app;
    END IF;
END $$;
