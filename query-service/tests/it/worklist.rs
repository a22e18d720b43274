//! The worklist: filters, sort orders, keyset pagination, the requester view, SLA clocks and
//! CSV.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    at_minute, numbers, send, spawn_app, ClockSeed, TestApp, TicketSeed, AGENT, OTHER_REQUESTER,
    REQUESTER,
};

/// Seeds a small, varied worklist:
///
/// | number | priority | status      | queue        | assignee | requester | tags    |
/// |--------|----------|-------------|--------------|----------|-----------|---------|
/// | 1      | medium   | new         | service-desk |          | own       |         |
/// | 2      | critical | assigned    | network      | k.meier  | own       | vpn     |
/// | 3      | low      | pending     | service-desk | anna     | other     | vpn, og |
/// | 4      | critical | new         | (none)       |          | other     |         |
/// | 5      | high     | resolved    | network      | k.meier  | own       |         |
/// | 6      | medium   | in_progress | network      | k.meier  | other     | og      |
async fn seed(app: &TestApp) {
    let mut tickets = vec![
        TicketSeed::new(1),
        TicketSeed::new(2)
            .priority("critical")
            .status("assigned")
            .queue(Some("network"))
            .assignee(AGENT),
        TicketSeed::new(3)
            .priority("low")
            .status("pending")
            .assignee("anna")
            .requester(OTHER_REQUESTER),
        TicketSeed::new(4)
            .priority("critical")
            .queue(None)
            .requester(OTHER_REQUESTER),
        TicketSeed::new(5)
            .priority("high")
            .status("resolved")
            .queue(Some("network"))
            .assignee(AGENT),
        TicketSeed::new(6)
            .status("in_progress")
            .queue(Some("network"))
            .assignee(AGENT)
            .requester(OTHER_REQUESTER),
    ];
    tickets[1].tags = vec!["vpn".into()];
    tickets[2].tags = vec!["vpn".into(), "og".into()];
    tickets[5].tags = vec!["og".into()];
    tickets[1].service_id = Some("network-access".into());
    // Ticket 1 changed last, ticket 6 before it.
    tickets[0].updated_at = at_minute(500);
    tickets[5].updated_at = at_minute(400);
    for ticket in tickets {
        app.insert_ticket(ticket).await;
    }
}

async fn list(app: &TestApp, query: &str) -> Vec<String> {
    numbers(&send(app.get(&format!("/api/v1/tickets{query}"))).await.ok())
}

fn short(numbers: &[String]) -> Vec<u32> {
    numbers
        .iter()
        .map(|number| number[5..].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_default_worklist_is_the_open_tickets_by_priority_then_age() {
    let app = spawn_app().await;
    seed(&app).await;

    let body = send(app.get("/api/v1/tickets")).await.ok();

    assert_eq!(short(&numbers(&body)), [2, 4, 1, 6, 3]);
    assert_eq!(body["next_cursor"], Value::Null);
    let first = &body["items"][0];
    assert_eq!(first["status"], "assigned");
    assert_eq!(first["priority"], "critical");
    assert_eq!(first["queue"], "network");
    assert_eq!(first["requester_name"], "Erika Mustermann");
    assert!(first.get("priority_rank").is_none());
}

#[tokio::test]
async fn filters_narrow_the_worklist() {
    let app = spawn_app().await;
    seed(&app).await;

    let cases: &[(&str, &[u32])] = &[
        ("?queue=network", &[2, 6]),
        ("?queue=unassigned", &[4]),
        ("?status=resolved", &[5]),
        ("?status=new&status=pending", &[4, 1, 3]),
        ("?status=new,resolved", &[4, 5, 1]),
        ("?status=all", &[2, 4, 5, 1, 6, 3]),
        ("?assignee=me", &[2, 6]),
        ("?assignee=anna", &[3]),
        ("?assignee=none", &[4, 1]),
        ("?requester=m.muster", &[4, 6, 3]),
        ("?priority=critical,low", &[2, 4, 3]),
        ("?service=network-access", &[2]),
        ("?tag=vpn", &[2, 3]),
        ("?tag=vpn&tag=og", &[3]),
        ("?queue=network&assignee=me&status=all", &[2, 5, 6]),
    ];
    for (query, expected) in cases {
        assert_eq!(short(&list(&app, query).await), *expected, "{query}");
    }
}

#[tokio::test]
async fn sort_orders_are_priority_age_newest_and_recently_updated() {
    let app = spawn_app().await;
    seed(&app).await;

    assert_eq!(short(&list(&app, "?sort=priority").await), [2, 4, 1, 6, 3]);
    assert_eq!(short(&list(&app, "?sort=age").await), [1, 2, 3, 4, 6]);
    assert_eq!(short(&list(&app, "?sort=-age").await), [6, 4, 3, 2, 1]);
    assert_eq!(short(&list(&app, "?sort=updated").await), [1, 6, 4, 3, 2]);
}

/// Pages through `query` with `limit`; returns every number and the page count.
async fn page_through(app: &TestApp, query: &str, limit: u32) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/tickets?{query}&limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let body = send(app.get(&path)).await.ok();
        pages += 1;
        let page = numbers(&body);
        assert!(page.len() <= limit as usize);
        all.extend(page);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    (all, pages)
}

#[tokio::test]
async fn keyset_pages_have_no_duplicates_or_gaps_in_every_sort_order() {
    let app = spawn_app().await;
    // 23 tickets with many ties: three priorities, opened in pairs at the same minute.
    for sequence in 1..=23u32 {
        let priority = ["high", "medium", "low"][sequence as usize % 3];
        let mut ticket = TicketSeed::new(sequence).priority(priority);
        ticket.opened_at = at_minute(i64::from(sequence / 2));
        ticket.updated_at = at_minute(i64::from(sequence % 4));
        app.insert_ticket(ticket).await;
    }

    for sort in ["priority", "age", "-age", "updated", "due"] {
        let whole = list(&app, &format!("?sort={sort}&limit=200")).await;
        let (paged, pages) = page_through(&app, &format!("sort={sort}"), 5).await;

        assert_eq!(whole.len(), 23, "{sort}");
        assert_eq!(paged, whole, "{sort}: pages differ from the whole list");
        assert_eq!(pages, 5, "{sort}");
        let distinct: HashSet<&String> = paged.iter().collect();
        assert_eq!(distinct.len(), 23, "{sort}");
    }
}

#[tokio::test]
async fn requesters_get_only_their_own_tickets_whatever_they_filter() {
    let app = spawn_app().await;
    seed(&app).await;
    let token = app.token(REQUESTER, "requester").await;
    let get = |query: &str| app.get_as(&format!("/api/v1/tickets{query}"), &token);

    let default = numbers(&send(get("")).await.ok());
    let everything = numbers(&send(get("?status=all&sort=age")).await.ok());
    let others = numbers(&send(get("?requester=m.muster&status=all")).await.ok());

    assert_eq!(short(&default), [2, 1]);
    assert_eq!(short(&everything), [1, 2, 5]);
    assert_eq!(short(&others), [2, 5, 1]);
}

#[tokio::test]
async fn csv_has_a_header_quotes_properly_and_defuses_formulas() {
    let app = spawn_app().await;
    app.insert_ticket(TicketSeed::new(1).title("=HYPERLINK(\"http://evil\",\"klick\")"))
        .await;
    app.insert_ticket(TicketSeed::new(2).title("Drucker, \"OG 2\""))
        .await;
    app.insert_ticket(TicketSeed::new(3).title("@SUM(A1)").assignee("-x"))
        .await;

    let reply = send(
        app.get("/api/v1/tickets?sort=age")
            .header("Accept", "text/csv"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/csv")));
    assert_eq!(reply.header("itsm-next-cursor"), None);
    let lines: Vec<&str> = reply.text.split("\r\n").collect();
    assert_eq!(
        lines.len(),
        5,
        "header, three rows, final line end: {lines:?}"
    );
    assert!(lines[0].starts_with("number,title,status,priority,"));
    assert!(
        lines[1].starts_with("2026-000001,\"'=HYPERLINK(\"\"http://evil\"\",\"\"klick\"\")\",new,")
    );
    assert!(lines[2].starts_with("2026-000002,\"Drucker, \"\"OG 2\"\"\",new,"));
    assert!(lines[3].starts_with("2026-000003,\"'@SUM(A1)\",new,"));
    assert!(lines[3].contains(",\"'-x\","));
    assert_eq!(lines[4], "");
}

#[tokio::test]
async fn csv_with_a_limit_is_one_page_and_names_the_next_cursor() {
    let app = spawn_app().await;
    for sequence in 1..=3 {
        app.insert_ticket(TicketSeed::new(sequence)).await;
    }

    let reply = send(
        app.get("/api/v1/tickets?sort=age&limit=2")
            .header("Accept", "text/csv"),
    )
    .await;
    let cursor = reply
        .header("itsm-next-cursor")
        .expect("more rows")
        .to_owned();
    let rest = send(
        app.get(&format!("/api/v1/tickets?sort=age&cursor={cursor}"))
            .header("Accept", "text/csv"),
    )
    .await;

    assert_eq!(reply.text.lines().count(), 3);
    assert_eq!(rest.text.lines().count(), 2);
    assert!(rest
        .text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("2026-000003,"));
}

/// Eight business hours, the resolution target of the SLA seeds.
const TARGET_S: i64 = 8 * 3600;

/// A first-response clock met in time.
fn responded() -> ClockSeed {
    ClockSeed::halted("met", 600, 3600)
}

/// Seeds one ticket per resolution clock case, opened in this order:
///
/// | number | status    | resolution clock                          | as read now      |
/// |--------|-----------|-------------------------------------------|------------------|
/// | 1      | new       | running, due an hour ago                  | breached         |
/// | 2      | new       | running, due in ten days                  | running          |
/// | 3      | new       | running, due in 30 min (< 25 % of 8 h)    | running, warning |
/// | 4      | new       | paused after its due time                 | breached         |
/// | 5      | new       | paused in time                            | paused           |
/// | 6      | resolved  | met in time                               | met              |
/// | 7      | resolved  | met late (the minutes used equal target)  | breached         |
/// | 8      | cancelled | stopped in time                           | stopped          |
/// | 9      | new       | no clocks                                 | none             |
/// | 10     | new       | running in ten days; first response late  | running          |
/// | 11     | cancelled | stopped late                              | breached         |
async fn seed_clocks(app: &TestApp) -> Vec<TicketSeed> {
    app.set_sla_projection(1).await;
    let now = Utc::now();
    let resolution = [
        Some(ClockSeed::running(
            now - Duration::hours(1),
            TARGET_S,
            TARGET_S,
        )),
        Some(ClockSeed::running(now + Duration::days(10), 600, TARGET_S)),
        Some(ClockSeed::running(
            now + Duration::minutes(30),
            27_000,
            TARGET_S,
        )),
        Some(ClockSeed::halted("paused", TARGET_S + 60, TARGET_S).late()),
        Some(ClockSeed::halted("paused", TARGET_S - 60, TARGET_S)),
        Some(ClockSeed::halted("met", TARGET_S - 60, TARGET_S)),
        Some(ClockSeed::halted("met", TARGET_S, TARGET_S).late()),
        Some(ClockSeed::halted("stopped", 600, TARGET_S)),
        None,
        Some(ClockSeed::running(now + Duration::days(10), 600, TARGET_S)),
        Some(ClockSeed::halted("stopped", TARGET_S * 2, TARGET_S).late()),
    ];
    let mut tickets = Vec::new();
    for (index, resolution) in resolution.into_iter().enumerate() {
        let status = match index {
            5 | 6 => "resolved",
            7 | 10 => "cancelled",
            _ => "new",
        };
        let ticket = app
            .insert_ticket(TicketSeed::new(index as u32 + 1).status(status))
            .await;
        let first_response = if index == 9 {
            ClockSeed::halted("met", 3600, 3600).late()
        } else {
            responded()
        };
        if let Some(resolution) = resolution {
            app.insert_clocks(1, ticket.id, first_response, resolution)
                .await;
        }
        tickets.push(ticket);
    }
    tickets
}

#[tokio::test]
async fn each_sla_filter_selects_by_the_resolution_clock_as_read_now() {
    let app = spawn_app().await;
    seed_clocks(&app).await;

    let cases: &[(&str, &[u32])] = &[
        ("running", &[2, 3, 10]),
        ("warning", &[3]),
        ("breached", &[1, 4, 7, 11]),
        ("paused", &[5]),
        ("met", &[6]),
        ("stopped", &[8]),
        ("none", &[9]),
    ];
    for (state, expected) in cases {
        let query = format!("?sort=age&status=all&sla={state}");
        assert_eq!(short(&list(&app, &query).await), *expected, "{state}");
    }
    assert_eq!(short(&list(&app, "?sort=age&sla=breached").await), [1, 4]);
    assert!(list(&app, "?sla=met").await.is_empty(), "open tickets only");
}

#[tokio::test]
async fn items_carry_the_resolution_state_and_due_time() {
    let app = spawn_app().await;
    let tickets = seed_clocks(&app).await;

    let body = send(app.get("/api/v1/tickets?sort=age&status=all"))
        .await
        .ok();

    let items = body["items"].as_array().unwrap();
    let states: Vec<Value> = items.iter().map(|item| item["sla_state"].clone()).collect();
    assert_eq!(
        Value::Array(states),
        json!([
            "breached", "running", "running", "breached", "paused", "met", "breached", "stopped",
            null, "running", "breached"
        ])
    );
    let due: Vec<bool> = items
        .iter()
        .map(|item| item["due_at"].is_string())
        .collect();
    assert_eq!(
        due,
        [true, true, true, false, false, false, false, false, false, true, false]
    );
    let none = items[8].as_object().unwrap();
    assert_eq!(none["id"], tickets[8].id.to_string());
    assert!(none.contains_key("sla_state") && none.contains_key("due_at"));
    let due_at: DateTime<Utc> = items[1]["due_at"].as_str().unwrap().parse().unwrap();
    assert!(due_at > Utc::now() + Duration::days(9));
}

#[tokio::test]
async fn without_the_sla_projection_or_in_another_generation_there_are_no_clocks() {
    let app = spawn_app().await;
    let first = app.insert_ticket(TicketSeed::new(1)).await;
    let second = app.insert_ticket(TicketSeed::new(2)).await;
    let due = Utc::now() + Duration::days(1);
    app.insert_clocks(
        1,
        first.id,
        responded(),
        ClockSeed::running(due, 0, TARGET_S),
    )
    .await;
    app.insert_clocks(
        2,
        second.id,
        responded(),
        ClockSeed::running(due, 0, TARGET_S),
    )
    .await;

    let before = send(app.get("/api/v1/tickets?sort=age")).await.ok();
    app.set_sla_projection(1).await;
    let after = send(app.get("/api/v1/tickets?sort=age")).await.ok();

    assert_eq!(before["items"][0]["sla_state"], Value::Null);
    assert_eq!(before["items"][0]["due_at"], Value::Null);
    assert_eq!(short(&list(&app, "?sla=running").await), [1]);
    assert_eq!(after["items"][0]["sla_state"], "running");
    assert_eq!(after["items"][1]["sla_state"], Value::Null, "generation 2");
    assert_eq!(short(&list(&app, "?sla=none").await), [2]);
}

/// A far-future instant plus `minutes` (the due order does not depend on now).
fn due(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 4, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

#[tokio::test]
async fn the_due_order_pages_by_resolution_due_time_then_tickets_without_one() {
    let app = spawn_app().await;
    app.set_sla_projection(1).await;
    // 14 tickets: running clocks due at minutes with ties (and one overdue, in 1986), then
    // paused, met and none, whose order is their id.
    let dues: [Option<i64>; 14] = [
        Some(30),
        None,
        Some(10),
        Some(30),
        Some(-60_000_000),
        None,
        Some(20),
        Some(10),
        None,
        Some(30),
        None,
        Some(5),
        None,
        Some(20),
    ];
    let mut expected = Vec::new();
    for (index, minutes) in dues.iter().enumerate() {
        let ticket = app.insert_ticket(TicketSeed::new(index as u32 + 1)).await;
        let resolution = match (minutes, index % 3) {
            (Some(minutes), _) => Some(ClockSeed::running(due(*minutes), 60, TARGET_S)),
            (None, 0) => None,
            (None, 1) => Some(ClockSeed::halted("paused", 60, TARGET_S)),
            (None, _) => Some(ClockSeed::halted("met", 60, TARGET_S)),
        };
        if let Some(resolution) = resolution {
            app.insert_clocks(1, ticket.id, responded(), resolution)
                .await;
        }
        expected.push((
            minutes.is_none(),
            minutes.unwrap_or(0),
            ticket.id,
            ticket.number,
        ));
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|entry| entry.3).collect();

    let whole = list(&app, "?sort=due&limit=200").await;
    let (paged, pages) = page_through(&app, "sort=due", 3).await;
    let (running, _) = page_through(&app, "sort=due&sla=running", 2).await;

    assert_eq!(whole, expected);
    assert_eq!(paged, expected, "pages differ from the whole list");
    assert_eq!(pages, 5);
    assert_eq!(
        running,
        expected[1..9],
        "running clocks only (the overdue one is breached), paged with the filter"
    );
}

#[tokio::test]
async fn due_cursors_and_other_cursors_do_not_mix() {
    let app = spawn_app().await;
    for sequence in 1..=3 {
        app.insert_ticket(TicketSeed::new(sequence)).await;
    }
    let due = send(app.get("/api/v1/tickets?sort=due&limit=1")).await.ok();
    let due_cursor = due["next_cursor"].as_str().expect("a next page");
    let priority = send(app.get("/api/v1/tickets?limit=1")).await.ok();
    let priority_cursor = priority["next_cursor"].as_str().expect("a next page");

    for query in [
        format!("sort=age&cursor={due_cursor}"),
        format!("cursor={due_cursor}"),
        format!("sort=due&cursor={priority_cursor}"),
    ] {
        send(app.get(&format!("/api/v1/tickets?{query}")))
            .await
            .assert_field_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameter",
                "cursor",
            );
    }
}

#[tokio::test]
async fn an_unknown_or_repeated_sla_filter_is_refused_by_name() {
    let app = spawn_app().await;

    for query in ["sla=late", "sla=RUNNING", "sla=running&sla=paused"] {
        send(app.get(&format!("/api/v1/tickets?{query}")))
            .await
            .assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", "sla");
    }
}

#[tokio::test]
async fn csv_ends_with_the_sla_state_and_due_time() {
    let app = spawn_app().await;
    let tickets = seed_clocks(&app).await;

    let reply = send(
        app.get("/api/v1/tickets?sort=age&sla=running")
            .header("Accept", "text/csv"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let lines: Vec<&str> = reply.text.split("\r\n").collect();
    assert!(
        lines[0].ends_with(",version,id,sla_state,due_at"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines.len(),
        5,
        "header, three rows, final line end: {lines:?}"
    );
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells[cells.len() - 3], tickets[1].id.to_string());
    assert_eq!(cells[cells.len() - 2], "running");
    let due_at: DateTime<Utc> = cells[cells.len() - 1]
        .parse()
        .expect("an RFC 3339 due time");
    assert!(due_at > Utc::now() + Duration::days(9));
}

#[tokio::test]
async fn breached_is_what_the_reporting_view_calls_breached() {
    let app = spawn_app().await;
    seed_clocks(&app).await;

    let body = send(app.get("/api/v1/tickets?sort=age&status=all"))
        .await
        .ok();
    let reported: Vec<(uuid::Uuid, bool)> = sqlx::query_as(
        "SELECT ticket_id, breached FROM reporting.sla_clocks WHERE metric = 'resolution'",
    )
    .fetch_all(&app.db.owner_pool)
    .await
    .expect("read reporting.sla_clocks");

    assert_eq!(reported.len(), 10);
    for (ticket, breached) in reported {
        let item = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == ticket.to_string())
            .expect("the ticket is listed");
        assert_eq!(item["sla_state"] == "breached", breached, "{item}");
    }
}
