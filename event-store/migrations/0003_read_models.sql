-- Read side (DESIGN §3–§5): projection checkpoints and the ticket read models.
--
-- The whole installation has one migration sequence; it lives beside the event store so that
-- `itsm migrate` and the test harness apply it in one go. Read models are derived data: they may
-- be updated and deleted (events never are).
--
-- Blue-green rebuilds without DDL at run time: every read-model row carries the `generation` of
-- the projection run that wrote it. `projections.active_generation` says which generation the
-- query side reads; a rebuild writes generation N+1 beside N and swaps by updating that one row
-- in one fenced transaction once it has caught up with the serving generation (ADR 0006).

CREATE TABLE projections (
    name               text    PRIMARY KEY,
    active_generation  integer NOT NULL CHECK (active_generation >= 1)
);

-- One row per (consumer, generation): projections and the relay. The cursor is the gap-free
-- `(transaction_id, global_position)` of the last applied event; every advance is fenced
-- (`WHERE last_tx = $old AND last_position = $old`) and commits with the read-model change.
CREATE TABLE projection_checkpoints (
    name               text        NOT NULL,
    generation         integer     NOT NULL CHECK (generation >= 1),
    -- Version of the code that builds this generation; a newer code version rebuilds.
    version            integer     NOT NULL,
    -- The PostgreSQL cluster the cursor belongs to (pg_control_system().system_identifier);
    -- transaction ids of another cluster (after a logical restore) are a new epoch.
    system_identifier  bigint      NOT NULL,
    last_tx            bigint      NOT NULL DEFAULT 0,
    last_position      bigint      NOT NULL DEFAULT 0,
    events_applied     bigint      NOT NULL DEFAULT 0,
    -- running | failed (a poison event stopped it) | retired (replaced by a newer generation)
    state              text        NOT NULL DEFAULT 'running'
                                   CHECK (state IN ('running', 'failed', 'retired')),
    error              text,
    failed_position    bigint,
    -- Which worker may advance it, until when (a lease, renewed with every batch).
    leader             text,
    lease_until        timestamptz,
    -- recorded_at of the last applied event (lag in seconds).
    last_event_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (name, generation)
);

-- Ticket view and worklist: one row per ticket, the state after its last applied event.
CREATE TABLE rm_tickets (
    generation         integer     NOT NULL,
    ticket_id          uuid        NOT NULL,
    number             text        NOT NULL,
    version            bigint      NOT NULL,
    ticket_type        text        NOT NULL,
    title              text        NOT NULL,
    description        text        NOT NULL,
    requester_name     text        NOT NULL,
    requester_email    text,
    requester_phone    text,
    requester_user_id  text,
    service_id         text,
    category_id        text,
    impact             text        NOT NULL,
    urgency            text        NOT NULL,
    priority           text        NOT NULL,
    -- 1 (critical) … 5 (very low): sorts by priority with an index.
    priority_rank      smallint    NOT NULL,
    queue              text,
    status             text        NOT NULL,
    is_open            boolean     NOT NULL,
    assignee           text,
    tags               text[]      NOT NULL,
    fields             jsonb       NOT NULL,
    channel            text        NOT NULL,
    pending_reason     text,
    pending_until      timestamptz,
    resolution_code    text,
    resolution_text    text,
    merged_into        uuid,
    article_count      integer     NOT NULL,
    opened_by          text        NOT NULL,
    opened_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    first_response_at  timestamptz,
    resolved_at        timestamptz,
    closed_at          timestamptz,
    -- Cursor of the last applied event (consistency token of the row).
    last_tx            bigint      NOT NULL,
    last_position      bigint      NOT NULL,
    search             tsvector    NOT NULL,
    PRIMARY KEY (generation, ticket_id)
);
CREATE UNIQUE INDEX rm_tickets_number_idx ON rm_tickets (generation, number);
-- Worklist: open tickets of a queue by priority, then age (keyset pagination on ticket_id).
CREATE INDEX rm_tickets_worklist_idx ON rm_tickets (generation, queue, priority_rank, opened_at, ticket_id)
    WHERE is_open;
CREATE INDEX rm_tickets_open_age_idx ON rm_tickets (generation, opened_at, ticket_id) WHERE is_open;
CREATE INDEX rm_tickets_assignee_idx ON rm_tickets (generation, assignee, priority_rank, opened_at)
    WHERE is_open;
CREATE INDEX rm_tickets_requester_idx ON rm_tickets (generation, requester_user_id, opened_at DESC);
CREATE INDEX rm_tickets_merged_into_idx ON rm_tickets (generation, merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX rm_tickets_search_idx ON rm_tickets USING gin (search);
CREATE INDEX rm_tickets_opened_at_idx ON rm_tickets (generation, opened_at);

-- Articles (replies, internal notes, requester messages) in order.
CREATE TABLE rm_articles (
    generation   integer     NOT NULL,
    ticket_id    uuid        NOT NULL,
    article_id   integer     NOT NULL,
    kind         text        NOT NULL,
    channel      text        NOT NULL,
    body         text        NOT NULL,
    attachments  jsonb       NOT NULL,
    author       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    search       tsvector    NOT NULL,
    PRIMARY KEY (generation, ticket_id, article_id)
);
CREATE INDEX rm_articles_search_idx ON rm_articles USING gin (search);

-- Links as stored on the source ticket; the reverse direction is the same row read by target.
CREATE TABLE rm_links (
    generation  integer     NOT NULL,
    ticket_id   uuid        NOT NULL,
    link_type   text        NOT NULL,
    target_id   uuid        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (generation, ticket_id, link_type, target_id)
);
CREATE INDEX rm_links_target_idx ON rm_links (generation, target_id);

-- The audit timeline: every event of a ticket, who, when, through which channel, what changed.
CREATE TABLE rm_history (
    generation      integer     NOT NULL,
    ticket_id       uuid        NOT NULL,
    version         bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    actor           text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    origin          text        NOT NULL,
    correlation_id  uuid        NOT NULL,
    -- [{"field": …, "from": …, "to": …}]
    changes         jsonb       NOT NULL,
    PRIMARY KEY (generation, ticket_id, version)
);

-- Reporting: stable views over the active generation, for reporting jobs and BI tools. Columns
-- are only ever added to these views, never renamed or removed (schemas/README.md).
CREATE SCHEMA reporting;

CREATE VIEW reporting.tickets AS
SELECT t.ticket_id, t.number, t.ticket_type, t.service_id, t.category_id, t.queue, t.priority,
       t.impact, t.urgency, t.status, t.is_open, t.channel, t.assignee, t.opened_at,
       t.first_response_at, t.resolved_at, t.closed_at, t.merged_into,
       extract(epoch FROM t.first_response_at - t.opened_at) AS first_response_seconds,
       extract(epoch FROM t.resolved_at - t.opened_at) AS resolution_seconds
FROM rm_tickets t
JOIN projections p ON p.name = 'tickets' AND t.generation = p.active_generation;

CREATE VIEW reporting.tickets_opened_per_day AS
SELECT (opened_at AT TIME ZONE 'Europe/Berlin')::date AS day, service_id, queue, priority, channel,
       ticket_type, count(*) AS opened
FROM reporting.tickets
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE VIEW reporting.tickets_resolved_per_day AS
SELECT (resolved_at AT TIME ZONE 'Europe/Berlin')::date AS day, service_id, queue, priority,
       channel, ticket_type, count(*) AS resolved,
       avg(resolution_seconds) AS resolution_seconds_avg,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds) AS resolution_seconds_median,
       avg(first_response_seconds) AS first_response_seconds_avg
FROM reporting.tickets
WHERE resolved_at IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE VIEW reporting.backlog_by_age AS
SELECT queue, priority,
       CASE
           WHEN now() - opened_at < interval '1 day' THEN '0-1d'
           WHEN now() - opened_at < interval '3 days' THEN '1-3d'
           WHEN now() - opened_at < interval '7 days' THEN '3-7d'
           WHEN now() - opened_at < interval '30 days' THEN '7-30d'
           ELSE '30d+'
       END AS age_bucket,
       count(*) AS open_tickets
FROM reporting.tickets
WHERE is_open
GROUP BY 1, 2, 3;

-- The read-only role of reporting jobs (NOLOGIN: an operator grants it to a login role).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_reporting') THEN
        CREATE ROLE itsm_reporting NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN
    RAISE NOTICE 'role itsm_reporting not created (no CREATEROLE); reporting grants skipped';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_reporting') THEN
        GRANT USAGE ON SCHEMA reporting TO itsm_reporting;
        GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO itsm_reporting;
        -- Views run with their owner's rights, so the role needs nothing on rm_* itself.
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT, UPDATE ON projections TO itsm_app;
        GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO itsm_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON rm_tickets, rm_articles, rm_links, rm_history
            TO itsm_app;
        GRANT USAGE ON SCHEMA reporting TO itsm_app;
        GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO itsm_app;
    END IF;
END $$;
