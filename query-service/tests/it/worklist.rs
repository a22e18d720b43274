//! The worklist: filters, sort orders, keyset pagination, the requester view and CSV.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    at_minute, numbers, send, spawn_app, TestApp, TicketSeed, AGENT, OTHER_REQUESTER, REQUESTER,
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

    for sort in ["priority", "age", "-age", "updated"] {
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
