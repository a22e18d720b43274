-- SLA clocks (issue 4 §3, ADR 0008): the `sla` projection folds configuration events (calendars,
-- policies, services) and ticket events in cursor order, so every clock is computed with the
-- configuration that was valid when its events happened, and a rebuild gives identical clocks.

-- Every version of the configuration items the clocks depend on, as the projection saw them.
CREATE TABLE rm_sla_config (
    generation  integer NOT NULL,
    kind        text    NOT NULL CHECK (kind IN ('calendar', 'sla_policy', 'service')),
    name        text    NOT NULL,
    version     bigint  NOT NULL,
    definition  jsonb,
    retired     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (generation, kind, name, version)
);

-- One row per ticket with clocks: the full clock state (segments, target changes) and the
-- columns worklists, monitors and reports filter and sort on. `*_due_at` is set while a clock
-- runs; breached = due_at < now() while running, or `*_late` (a running stretch ended after the
-- due time: met, paused or stopped late).
CREATE TABLE rm_sla_clocks (
    generation                 integer     NOT NULL,
    ticket_id                  uuid        NOT NULL,
    version                    bigint      NOT NULL,
    policy                     text        NOT NULL,
    clocks                     jsonb       NOT NULL,
    first_response_state       text        NOT NULL,
    first_response_due_at      timestamptz,
    first_response_elapsed_s   bigint      NOT NULL,
    first_response_target_s    bigint      NOT NULL,
    -- A running stretch ended after the due time (met, paused or stopped late).
    first_response_late        boolean     NOT NULL,
    resolution_state           text        NOT NULL,
    resolution_due_at          timestamptz,
    resolution_elapsed_s       bigint      NOT NULL,
    resolution_target_s        bigint      NOT NULL,
    resolution_late            boolean     NOT NULL,
    resolution_stopped_at      timestamptz,
    -- The next warning threshold or due time of a running clock (what the SLA monitor waits for).
    next_deadline_at           timestamptz,
    last_tx                    bigint      NOT NULL,
    last_position              bigint      NOT NULL,
    PRIMARY KEY (generation, ticket_id)
);

CREATE INDEX rm_sla_clocks_due_idx ON rm_sla_clocks (generation, resolution_due_at)
    WHERE resolution_state = 'running';
CREATE INDEX rm_sla_clocks_deadline_idx ON rm_sla_clocks (generation, next_deadline_at)
    WHERE next_deadline_at IS NOT NULL;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON rm_sla_config, rm_sla_clocks TO itsm_app;
    END IF;
END $$;

-- SLA compliance per month (of opening, Europe/Berlin), service, queue and metric. A clock counts
-- as breached when a running stretch ended after its due time (met, paused or stopped late), or
-- it runs past its due time now.
CREATE VIEW reporting.sla_clocks AS
SELECT c.ticket_id, c.policy, v.metric, v.state, v.elapsed_seconds, v.target_seconds, v.due_at,
       v.late OR (v.state = 'running' AND v.due_at < now()) AS breached
FROM rm_sla_clocks c
JOIN projections p ON p.name = 'sla' AND c.generation = p.active_generation
CROSS JOIN LATERAL (VALUES
    ('first_response', c.first_response_state, c.first_response_elapsed_s,
     c.first_response_target_s, c.first_response_due_at, c.first_response_late),
    ('resolution', c.resolution_state, c.resolution_elapsed_s, c.resolution_target_s,
     c.resolution_due_at, c.resolution_late)
) AS v(metric, state, elapsed_seconds, target_seconds, due_at, late);

CREATE VIEW reporting.sla_compliance AS
SELECT to_char(t.opened_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM') AS month,
       t.service_id AS service, t.queue, s.metric,
       count(*) FILTER (WHERE s.state = 'met') AS met,
       count(*) FILTER (WHERE s.state = 'met' AND NOT s.breached) AS met_in_time,
       count(*) FILTER (WHERE s.breached) AS breached,
       round(100.0 * count(*) FILTER (WHERE s.state = 'met' AND NOT s.breached)
             / NULLIF(count(*) FILTER (WHERE s.state = 'met' OR s.breached), 0), 1)::float8
         AS compliance_percent
FROM reporting.sla_clocks s
JOIN reporting.tickets t USING (ticket_id)
GROUP BY 1, 2, 3, 4;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_reporting') THEN
        GRANT SELECT ON reporting.sla_clocks, reporting.sla_compliance TO itsm_reporting;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itsm_app') THEN
        GRANT SELECT ON reporting.sla_clocks, reporting.sla_compliance TO itsm_app;
    END IF;
END $$;
