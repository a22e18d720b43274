//! Crash safety: the projector and the relay run as their own processes and are killed with
//! SIGKILL at random moments, many times, while commands flow. Afterwards the read models equal
//! a rebuild (no missing or doubled article or count) and every event is in JetStream, none
//! twice after dedupe by event id.

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{free_port, itsm_command, stdout, Installation};

const KILLS: usize = 12;

/// A random duration in `[low, high)` milliseconds (random enough for kill points).
fn random_ms(low: u64, high: u64) -> Duration {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let value = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    Duration::from_millis(low + value % (high - low))
}

fn spawn(installation: &Installation, args: &[&str]) -> Child {
    itsm_command(args, Some(&installation.config))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn itsm")
}

async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "itsm serve did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Sends commands until `stop`: opens tickets and adds replies, notes and assignments.
async fn command_flow(base: String, token: String, stop: Arc<AtomicBool>) -> usize {
    let client = reqwest::Client::new();
    let mut commands = 0;
    let mut tickets: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let index = commands;
        let (url, body) = if index % 4 == 0 || tickets.is_empty() {
            (
                format!("{base}/api/v1/tickets"),
                json!({"type": "incident", "title": format!("Störung {index}"),
                       "requester": {"name": "Erika Mustermann"}, "impact": "low", "urgency": "high",
                       "queue": "first-level"}),
            )
        } else {
            let ticket = &tickets[index % tickets.len()];
            let body = match index % 3 {
                0 => json!({"type": "add_note", "body": format!("Notiz {index}")}),
                1 => json!({"type": "add_reply", "body": format!("Antwort {index}")}),
                _ => json!({"type": "assign", "assignee": format!("agent{}", index % 5)}),
            };
            (format!("{base}/api/v1/tickets/{ticket}/commands"), body)
        };
        let response = client
            .post(url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("command");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status == 201 || status == 200 || status == 409,
            "{status} {answer}"
        );
        if index % 4 == 0 || tickets.is_empty() {
            tickets.push(answer["id"].as_str().unwrap().to_owned());
        }
        commands += 1;
    }
    commands
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_projector_and_relay_loses_and_doubles_nothing() {
    let installation = Installation::new().await;
    let token =
        stdout(&installation.itsm(&["token", "issue", "--user", "k.meier", "--role", "agent"]))
            .trim()
            .to_owned();
    // The command API on its own process, never killed.
    let mut command = spawn(&installation, &["serve", "--only", "command"]);
    let base = installation.base_url();
    wait_healthy(&base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let flows: Vec<_> = (0..3)
        .map(|_| tokio::spawn(command_flow(base.clone(), token.clone(), stop.clone())))
        .collect();

    // Projector and relay: start, let them work a random while, SIGKILL; again and again.
    let workers_port = free_port();
    let listen = format!("127.0.0.1:{workers_port}");
    let worker_args = [
        "serve",
        "--only",
        "projector",
        "--only",
        "relay",
        "--listen",
        &listen,
    ];
    let applied_sql = "SELECT COALESCE(max(events_applied), 0) FROM projection_checkpoints WHERE name = 'tickets'";
    let (mut worked_before_kill, mut previous) = (0, 0);
    for _ in 0..KILLS {
        let mut workers = spawn(&installation, &worker_args);
        tokio::time::sleep(random_ms(200, 2_000)).await;
        workers.kill().expect("SIGKILL");
        workers.wait().expect("reap");
        let applied = scalar(&installation.db.app_pool, applied_sql).await;
        if applied > previous {
            worked_before_kill += 1;
        }
        previous = applied;
    }
    assert!(
        worked_before_kill >= KILLS / 3,
        "the workers were killed while working ({worked_before_kill} of {KILLS})"
    );
    stop.store(true, Ordering::Relaxed);
    let mut commands = 0;
    for flow in flows {
        commands += flow.await.unwrap();
    }
    assert!(commands > 50, "commands flowed: {commands}");

    // A last worker process catches up.
    let mut workers = spawn(&installation, &worker_args);
    let pool = &installation.db.app_pool;
    let events = scalar(pool, "SELECT count(*) FROM events").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let projected = scalar(
            pool,
            "SELECT COALESCE(max(c.events_applied), 0) FROM projection_checkpoints c \
             JOIN projections p ON p.name = c.name AND p.active_generation = c.generation \
             WHERE c.name = 'tickets'",
        )
        .await;
        let relayed = scalar(
            pool,
            "SELECT COALESCE(max(events_applied), 0) FROM projection_checkpoints WHERE name = 'relay'",
        )
        .await;
        if projected >= events && relayed >= events {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "caught up: projected {projected}, relayed {relayed} of {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers.kill().unwrap();
    workers.wait().unwrap();
    command.kill().unwrap();
    command.wait().unwrap();

    // Exactly once: every counter equals the events, no article or history entry doubled.
    let applied = scalar(
        pool,
        "SELECT events_applied FROM projection_checkpoints WHERE name = 'tickets'",
    )
    .await;
    let status = stdout(&installation.itsm(&["projection", "status"]));
    assert_eq!(applied, events, "each event applied once\n{status}");
    // One history row per ticket event (`itsm migrate` also recorded the default asset classes).
    assert_eq!(
        scalar(pool, "SELECT count(*) FROM rm_history").await,
        scalar(
            pool,
            "SELECT count(*) FROM events WHERE stream_type = 'ticket'"
        )
        .await
    );
    assert_eq!(
        scalar(pool, "SELECT count(*) FROM rm_articles").await,
        scalar(
            pool,
            "SELECT count(*) FROM events WHERE event_type = 'ticket.article_added'"
        )
        .await
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COALESCE(sum(article_count), 0) FROM rm_tickets"
        )
        .await,
        scalar(
            pool,
            "SELECT count(*) FROM events WHERE event_type = 'ticket.article_added'"
        )
        .await
    );
    let active_generation = || async {
        projector::checkpoint::active_generation(pool, projector::TICKETS)
            .await
            .unwrap()
            .expect("the projection exists")
    };
    let live_generation = active_generation().await;
    let live_digest = projector::tickets::digest(pool, live_generation)
        .await
        .unwrap();

    // The operator's rebuild gives the same read models.
    let rebuild = installation.itsm(&["projection", "rebuild", "tickets"]);
    assert!(rebuild.status.success(), "{rebuild:?}");
    let rebuilt_generation = active_generation().await;
    assert_ne!(
        rebuilt_generation, live_generation,
        "a new generation serves"
    );
    let rebuilt_digest = projector::tickets::digest(pool, rebuilt_generation)
        .await
        .unwrap();
    assert_eq!(
        live_digest, rebuilt_digest,
        "killed-and-resumed equals rebuilt"
    );

    // JetStream: every event present; after dedupe by event id none twice.
    let client = async_nats::connect(crate::nats_url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(&installation.stream).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut ids = HashSet::new();
    let mut messages = 0;
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let id = message
            .headers
            .get("Nats-Msg-Id")
            .expect("Nats-Msg-Id")
            .as_str()
            .to_owned();
        ids.insert(id);
        messages += 1;
    }
    let stored: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT event_id FROM events")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), stored.len(), "{messages} messages");
    for id in stored {
        assert!(
            ids.contains(&id.to_string()),
            "event {id} reached JetStream"
        );
    }
    let output = installation.itsm(&["projection", "status"]);
    assert!(stdout(&output).contains("tickets"), "{output:?}");
}

/// The value of a counter in a Prometheus text exposition (summed over its label sets).
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_projector_processes_exactly_one_advances() {
    let installation = Installation::new().await;
    let token =
        stdout(&installation.itsm(&["token", "issue", "--user", "k.meier", "--role", "agent"]))
            .trim()
            .to_owned();
    let mut command = spawn(&installation, &["serve", "--only", "command"]);
    let base = installation.base_url();
    wait_healthy(&base).await;
    let ports = [free_port(), free_port()];
    let mut projectors: Vec<Child> = ports
        .iter()
        .map(|port| {
            let listen = format!("127.0.0.1:{port}");
            spawn(
                &installation,
                &["serve", "--only", "projector", "--listen", &listen],
            )
        })
        .collect();
    for port in ports {
        wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flow = tokio::spawn(command_flow(base.clone(), token.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    flow.await.unwrap();
    let pool = &installation.db.app_pool;
    let events = scalar(pool, "SELECT count(*) FROM events").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(
        pool,
        "SELECT COALESCE(max(events_applied), 0) FROM projection_checkpoints WHERE name = 'tickets'",
    )
    .await
        < events
    {
        assert!(Instant::now() < deadline, "the projection caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::new();
    let mut applied = Vec::new();
    for port in ports {
        let text = client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Each projection (tickets, sla) has its own lease; the property holds per projection.
        applied.push(counter(
            &text,
            "itsm_projector_events_applied_total{projection=\"tickets\"",
        ));
    }
    for child in projectors.iter_mut().chain(std::iter::once(&mut command)) {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(applied.iter().sum::<u64>(), events as u64, "{applied:?}");
    assert!(
        applied.contains(&0),
        "only one process advanced: {applied:?}"
    );
}
