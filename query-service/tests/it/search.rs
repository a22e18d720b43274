//! Full-text search: umlaut folding, prefixes, ranking, ticket numbers, and who finds what.

use reqwest::StatusCode;

use crate::helpers::{numbers, send, spawn_app, TestApp, TicketSeed, OTHER_REQUESTER, REQUESTER};

/// 1: "Drücker defekt" (in title and description); 2: an article mentions the Drucker;
/// 3: nothing about printers, an internal note with a secret word; 4: another requester's
/// printer ticket.
async fn seed(app: &TestApp) {
    let mut first = TicketSeed::new(1).title("Drücker defekt");
    first.description = "Der Drücker im 2. OG ist defekt und druckt nicht.".into();
    app.insert_ticket(first).await;
    let second = app
        .insert_ticket(TicketSeed::new(2).title("Monitor flackert"))
        .await;
    app.insert_article(
        second.id,
        1,
        "public_reply",
        "Bitte auch den Drucker prüfen.",
    )
    .await;
    let third = app
        .insert_ticket(TicketSeed::new(3).title("Kaffeemaschine"))
        .await;
    app.insert_article(third.id, 1, "internal_note", "Stichwort Zauberwort")
        .await;
    app.insert_ticket(
        TicketSeed::new(4)
            .title("Drucker im Keller")
            .requester(OTHER_REQUESTER),
    )
    .await;
}

async fn search(app: &TestApp, token: &str, query: &str) -> Vec<u32> {
    let body = send(app.get_as(&format!("/api/v1/search?{query}"), token))
        .await
        .ok();
    numbers(&body)
        .iter()
        .map(|number| number[5..].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn search_folds_umlauts_matches_prefixes_and_ranks_the_best_match_first() {
    let app = spawn_app().await;
    seed(&app).await;
    let agent = app.agent_token.clone();

    let exact = search(&app, &agent, "q=Drucker").await;
    let prefix = search(&app, &agent, "q=Druck").await;
    let with_umlaut = search(&app, &agent, "q=dr%C3%BCcker%20defekt").await;

    assert_eq!(exact.len(), 3, "{exact:?}");
    assert_eq!(
        exact[0], 1,
        "title and description outrank an article: {exact:?}"
    );
    assert!(exact.contains(&2) && exact.contains(&4));
    assert_eq!(prefix.len(), 3, "{prefix:?}");
    assert_eq!(with_umlaut, [1]);
    let body = send(app.get("/api/v1/search?q=Drucker")).await.ok();
    let ranks: Vec<f64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["rank"].as_f64().unwrap())
        .collect();
    assert!(ranks.windows(2).all(|pair| pair[0] >= pair[1]), "{ranks:?}");
    assert_eq!(body["items"][0]["title"], "Drücker defekt");
}

#[tokio::test]
async fn a_ticket_number_finds_that_ticket_first() {
    let app = spawn_app().await;
    seed(&app).await;

    let found = search(&app, &app.agent_token.clone(), "q=2026-000003").await;

    assert_eq!(found[0], 3);
}

#[tokio::test]
async fn requesters_find_only_their_tickets_and_never_internal_notes() {
    let app = spawn_app().await;
    seed(&app).await;
    let agent = app.agent_token.clone();
    let requester = app.token(REQUESTER, "requester").await;

    assert_eq!(search(&app, &agent, "q=Zauberwort").await, [3]);
    assert_eq!(
        search(&app, &requester, "q=Zauberwort").await,
        Vec::<u32>::new()
    );
    let printers = search(&app, &requester, "q=Drucker").await;
    assert_eq!(printers, [1, 2], "not the other requester's ticket 4");
    assert_eq!(
        search(&app, &requester, "q=2026-000004").await,
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn empty_missing_or_overlong_queries_are_refused() {
    let app = spawn_app().await;
    let long = "a".repeat(201);

    for query in ["", "?q=", "?q=%20%26%7C!", &format!("?q={long}")] {
        send(app.get(&format!("/api/v1/search{query}")))
            .await
            .assert_field_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_parameter", "q");
    }
    send(app.get("/api/v1/search?q=x&limit=201"))
        .await
        .assert_field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
            "limit",
        );
}
