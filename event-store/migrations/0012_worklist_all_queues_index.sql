-- The agent worklist across all queues and the queue counts (issue 7: the worklist's first page
-- interactive in under 1 s with 100,000 open tickets). Without a queue filter, open tickets in
-- priority order walked `rm_tickets_worklist_idx` (queue first) and sorted every open ticket;
-- the counts by queue and status read every open row. Expand only.
CREATE INDEX rm_tickets_open_priority_idx ON rm_tickets (generation, priority_rank, opened_at, ticket_id)
    WHERE is_open;
CREATE INDEX rm_tickets_open_counts_idx ON rm_tickets (generation, queue, status) WHERE is_open;
