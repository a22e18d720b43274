//! A ticket as of a past moment: replaying its events gives exactly the row the live projection
//! wrote, and an instant between two events stops the replay between them.

use std::sync::Arc;

use event_store::crypto::{MasterKey, PersonalDataVault};
use event_store::testing::TestDatabase;
use projector::as_of::{events_until, replay};
use projector::tickets::{TicketProjection, TicketRow};
use uuid::Uuid;

use crate::corpus;
use crate::support::{catch_up_all, runner_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_tickets_events_gives_the_projected_row_and_stops_at_the_instant() {
    let db = TestDatabase::create().await;
    let pool = &db.app_pool;
    let master_key = MasterKey::generate();
    master_key.check_against(pool).await.expect("record key");
    let service = corpus::service(pool, &master_key);
    let events = corpus::generate(service, 60, 2).await;
    assert!(events >= 300, "corpus has {events} events");
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(&master_key));
    let runner = runner_of(pool, Arc::new(projection), "as-of-test", 500).await;
    catch_up_all(&runner, pool).await;

    let vault = PersonalDataVault::new(&master_key);
    let tickets: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'ticket' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tickets.len() >= 60, "{} tickets", tickets.len());
    for ticket in &tickets {
        let stored = events_until(pool, &vault, *ticket, None).await.unwrap();
        let mut versions = Vec::new();
        let past = replay(&stored, |state| versions.push(state.row.version))
            .unwrap()
            .expect("the ticket has events");
        let projected: serde_json::Value = sqlx::query_scalar(
            "SELECT to_jsonb(t) - 'generation' - 'search' FROM rm_tickets t \
             WHERE generation = 1 AND ticket_id = $1",
        )
        .bind(ticket)
        .fetch_one(pool)
        .await
        .unwrap();
        let projected: TicketRow = serde_json::from_value(projected).unwrap();
        assert_eq!(past.row, projected, "ticket {ticket}");
        assert_eq!(versions, (1..=stored.len() as i64).collect::<Vec<_>>());
        assert_eq!(past.history.len(), stored.len());
        let articles: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM rm_articles WHERE generation = 1 AND ticket_id = $1",
        )
        .bind(ticket)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(past.articles.len() as i64, articles, "ticket {ticket}");
    }

    // An instant between the second and third event of a ticket sees two events (the ticket
    // with the most events: the corpus also opens link targets that have only one).
    let busy: Uuid = sqlx::query_scalar(
        "SELECT stream_id FROM events WHERE stream_type = 'ticket' \
         GROUP BY stream_id ORDER BY count(*) DESC, stream_id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let stored = events_until(pool, &vault, busy, None).await.unwrap();
    assert!(stored.len() >= 3, "{} events", stored.len());
    let (second, third) = (stored[1].0.recorded_at, stored[2].0.recorded_at);
    let between = second + (third - second) / 2;
    let until = events_until(pool, &vault, busy, Some(between))
        .await
        .unwrap();
    assert!(third > second, "recorded_at is the clock at each insert");
    assert_eq!(until.len(), 2);
    let then = replay(&until, |_| {}).unwrap().unwrap();
    assert_eq!(then.row.version, until.len() as i64);
    assert_eq!(then.last_event.event_id, until.last().unwrap().0.event_id);
    // Before the first event the ticket did not exist.
    let before = stored[0].0.recorded_at - chrono::Duration::microseconds(1);
    let none = events_until(pool, &vault, busy, Some(before))
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(replay(&none, |_| {}).unwrap().is_none());
}
