//! `GET /api/v1/events/stream`: live updates as Server-Sent Events, fed by NATS.
//!
//! One core subscription per process on `<prefix>.events.>` (started by the first stream
//! client) feeds a [`Feed`] task: it drops repeats (delivery is at-least-once), waits (bounded)
//! until the ticket projection has passed the newest event of a batch, reads the tickets' current
//! summary once, and broadcasts one [`TicketChange`] per event, plus, at most every
//! [`QUEUES_INTERVAL`], the queue counts. Each client filters what it may see: agents everything,
//! requesters their own tickets; never payload text (the relay's payloads are not even read).
//!
//! There is no replay: a client that reconnects (or gets `event: resync` after falling behind)
//! refetches what it shows. `Last-Event-ID` is ignored. NATS is transport only (DESIGN §5).

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Message, Subscriber};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use event_store::Cursor;
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, OnceCell, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::consistency::Consistency;
use crate::extract::{may_read, visibility_of, Params, Visibility};
use crate::queues::{self, QueueOverview};
use crate::AppState;
use domain::access::Scope;

/// Queue counts go out at most this often.
pub const QUEUES_INTERVAL: Duration = Duration::from_millis(500);
/// Open streams per process.
pub const STREAMS_MAX: usize = 1_000;
/// A stream ends after this long; the browser reconnects (and the token is checked again).
pub const STREAM_DURATION_MAX: Duration = Duration::from_secs(60 * 60);
/// Comment lines keep idle connections (and proxies) open.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// What `retry:` asks browsers to wait before reconnecting.
const RECONNECT_DELAY: Duration = Duration::from_secs(3);
/// Updates buffered per process; a client further behind gets `event: resync`.
const CHANNEL_CAPACITY: usize = 1_024;
/// Messages taken from NATS per batch.
const BATCH_MAX: usize = 256;
/// Event ids remembered to drop repeats.
const SEEN_MAX: usize = 8_192;
/// The NATS header with the event's store cursor (set by the relay).
const HEADER_CURSOR: &str = "Itsm-Cursor";

/// A ticket changed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketChange {
    pub id: Uuid,
    pub number: Option<String>,
    /// The version the event gave the ticket.
    pub version: u64,
    /// e.g. `ticket.assigned`.
    pub event_type: String,
    /// The ticket's current status, queue, priority and assignee (null if not yet projected).
    pub status: Option<String>,
    pub queue: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    /// The event's consistency token: pass it as `after` when refetching.
    pub cursor: String,
}

/// What the feed broadcasts to every stream of the process.
#[derive(Debug)]
enum LiveMessage {
    Ticket {
        change: TicketChange,
        requester_user_id: Option<String>,
    },
    Queues(QueueOverview),
}

type Hub = broadcast::Sender<Arc<LiveMessage>>;

/// The process's live-update source.
#[derive(Debug)]
pub struct Live {
    nats: Option<async_nats::Client>,
    subject_prefix: String,
    hub: OnceCell<Hub>,
    streams: Arc<Semaphore>,
}

impl Live {
    pub fn new(nats: Option<async_nats::Client>, subject_prefix: String) -> Live {
        Live {
            nats,
            subject_prefix,
            hub: OnceCell::new(),
            streams: Arc::new(Semaphore::new(STREAMS_MAX)),
        }
    }

    /// The broadcast channel, subscribing to NATS and starting the feed on first use.
    async fn hub(&self, state: &AppState) -> Result<Hub, ApiError> {
        let nats = self.nats.as_ref().ok_or(ApiError::LiveUpdatesUnavailable)?;
        let hub = self
            .hub
            .get_or_try_init(|| async {
                let subject = format!("{}.events.>", self.subject_prefix);
                let subscriber = nats.subscribe(subject).await.map_err(unavailable)?;
                // The server has the subscription before any client is told it is `ready`.
                nats.flush().await.map_err(unavailable)?;
                let (hub, _) = broadcast::channel(CHANNEL_CAPACITY);
                let feed = Feed {
                    pool: state.pool.clone(),
                    consistency: state.consistency.clone(),
                    wait: state.limits.consistency_wait,
                    hub: hub.downgrade(),
                    seen: Seen::default(),
                };
                tokio::spawn(feed.run(subscriber));
                Ok::<Hub, ApiError>(hub)
            })
            .await?;
        Ok(hub.clone())
    }
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %error, "cannot subscribe to live updates");
    ApiError::Unavailable
}

/// Live updates (Server-Sent Events).
#[utoipa::path(
    get,
    path = "/api/v1/events/stream",
    tag = "live",
    params(
        ("after" = Option<String>, Query, description = "Consistency token: start streaming once the read model reflects it"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`. First `event: ready`; then `event: ticket` (data: TicketChange) for every change of a ticket the caller may see, `event: queues` (data: QueueOverview, agents only, at most every 500 ms), and `event: resync` when the client fell behind. Comment lines keep the connection alive. No replay: after a reconnect or a `resync`, refetch. Streams end after an hour; browsers reconnect.", body = String, content_type = "text/event-stream"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Live updates not configured, too many streams, or `after` not reached in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn stream(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&[])?;
    let after = params.after()?;
    if state.live.nats.is_none() {
        return Err(ApiError::LiveUpdatesUnavailable);
    }
    state
        .consistency
        .wait(after, state.limits.consistency_wait)
        .await?;
    let permit = state
        .live
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyStreams { limit: STREAMS_MAX })?;
    let hub = state.live.hub(&state).await?;
    let scope = state.directory.scope_of(&actor).await?;
    let visibility = visibility_of(&state, &actor).await?;
    let client = Client {
        receiver: hub.subscribe(),
        actor,
        scope,
        visibility,
        greeted: false,
        ends_at: Instant::now() + STREAM_DURATION_MAX,
        _permit: permit,
    };
    let events = futures_util::stream::unfold(client, |mut client| async move {
        let event = client.next_event().await?;
        Some((Ok::<Event, Infallible>(event), client))
    });
    let keep_alive = KeepAlive::new()
        .interval(KEEP_ALIVE_INTERVAL)
        .text("keep-alive");
    let mut response = Sse::new(events).keep_alive(keep_alive).into_response();
    // Reverse proxies (nginx) must pass events on at once.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One stream client: its view of the broadcast.
struct Client {
    receiver: broadcast::Receiver<Arc<LiveMessage>>,
    actor: Actor,
    /// The caller's queue rights when the stream began (streams end after an hour).
    scope: Arc<Scope>,
    /// Whose tickets the caller reads as a requester, as when the stream began.
    visibility: Visibility,
    greeted: bool,
    ends_at: Instant,
    _permit: OwnedSemaphorePermit,
}

impl Client {
    /// The next event this client may see; `None` ends the stream.
    async fn next_event(&mut self) -> Option<Event> {
        if !self.greeted {
            self.greeted = true;
            return Some(
                Event::default()
                    .event("ready")
                    .retry(RECONNECT_DELAY)
                    .data("{}"),
            );
        }
        loop {
            let received = tokio::time::timeout_at(self.ends_at, self.receiver.recv())
                .await
                .ok()?;
            match received {
                Ok(message) => {
                    if let Some(event) = self.render(&message) {
                        return Some(event);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let data = format!("{{\"missed\":{missed}}}");
                    return Some(Event::default().event("resync").data(data));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn render(&self, message: &LiveMessage) -> Option<Event> {
        match message {
            LiveMessage::Ticket {
                change,
                requester_user_id,
            } if may_read(
                &self.actor,
                &self.scope,
                &self.visibility,
                change.queue.as_deref(),
                requester_user_id.as_deref(),
            ) =>
            {
                Event::default().event("ticket").json_data(change).ok()
            }
            LiveMessage::Queues(overview) if self.actor.is_agent() => {
                Event::default().event("queues").json_data(overview).ok()
            }
            _ => None,
        }
    }
}

/// The fields of a relayed event the feed uses (the relay sends a whole `RecordedEvent`; its
/// payload is never read).
#[derive(Debug, Deserialize)]
struct RelayedEvent {
    event_id: Uuid,
    stream_type: String,
    stream_id: Uuid,
    stream_version: u64,
    event_type: String,
    transaction_id: Option<i64>,
    global_position: Option<i64>,
}

impl RelayedEvent {
    /// The event of a NATS message, with its cursor (from the body, else the header).
    fn parse(message: &Message) -> Option<(RelayedEvent, Cursor)> {
        let event: RelayedEvent = serde_json::from_slice(&message.payload).ok()?;
        let cursor = match (event.transaction_id, event.global_position) {
            (Some(transaction_id), Some(global_position)) => Cursor {
                transaction_id,
                global_position,
            },
            _ => message
                .headers
                .as_ref()?
                .get(HEADER_CURSOR)?
                .as_str()
                .parse()
                .ok()?,
        };
        Some((event, cursor))
    }
}

/// Event ids seen lately, to drop repeated deliveries.
#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
}

impl Seen {
    /// `true` the first time `id` is inserted (within the last `SEEN_MAX`).
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SEEN_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        true
    }
}

/// The current summary of a changed ticket.
#[derive(Debug, sqlx::FromRow)]
struct ChangedTicket {
    ticket_id: Uuid,
    number: String,
    status: String,
    queue: Option<String>,
    priority: String,
    assignee: Option<String>,
    requester_user_id: Option<String>,
}

/// Turns relayed events into broadcast updates (one task per process).
struct Feed {
    pool: PgPool,
    consistency: Arc<Consistency>,
    wait: Duration,
    hub: broadcast::WeakSender<Arc<LiveMessage>>,
    seen: Seen,
}

impl Feed {
    /// Runs until the subscription ends or nobody holds the hub any more.
    async fn run(mut self, mut subscriber: Subscriber) {
        let mut queues_due: Option<Instant> = None;
        let mut queues_sent_at: Option<Instant> = None;
        loop {
            let wake_at = queues_due.unwrap_or_else(|| Instant::now() + STREAM_DURATION_MAX);
            tokio::select! {
                message = subscriber.next() => {
                    let Some(message) = message else { return };
                    let batch = take_batch(message, &mut subscriber);
                    if self.tickets(batch).await && queues_due.is_none() {
                        let earliest = queues_sent_at.map_or_else(Instant::now, |at| at + QUEUES_INTERVAL);
                        queues_due = Some(earliest.max(Instant::now()));
                    }
                }
                () = tokio::time::sleep_until(wake_at), if queues_due.is_some() => {
                    queues_due = None;
                    queues_sent_at = Some(Instant::now());
                    self.queues().await;
                }
            }
            if self.hub.strong_count() == 0 {
                return;
            }
        }
    }

    /// Broadcasts the ticket events of `batch`; whether there were any.
    async fn tickets(&mut self, batch: Vec<Message>) -> bool {
        let events: Vec<(RelayedEvent, Cursor)> = batch
            .iter()
            .filter_map(RelayedEvent::parse)
            .filter(|(event, _)| event.stream_type == "ticket")
            .filter(|(event, _)| self.seen.insert(event.event_id))
            .collect();
        let Some(newest) = events.iter().map(|(_, cursor)| *cursor).max() else {
            return false;
        };
        match self
            .consistency
            .wait_until(newest, Instant::now() + self.wait)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                live.events = events.len(),
                "live updates sent before the projection caught up"
            ),
            Err(_) => tracing::warn!("live updates: cannot read the projection's checkpoint"),
        }
        let tickets = match self.load(&events).await {
            Ok(tickets) => tickets,
            Err(error) => {
                tracing::warn!(error = %error, "live updates: cannot read changed tickets");
                HashMap::new()
            }
        };
        let Some(hub) = self.hub.upgrade() else {
            return false;
        };
        for (event, cursor) in events {
            let ticket = tickets.get(&event.stream_id);
            // No receivers is fine: nobody is watching.
            let _ = hub.send(Arc::new(message(event, cursor, ticket)));
        }
        true
    }

    async fn load(
        &self,
        events: &[(RelayedEvent, Cursor)],
    ) -> Result<HashMap<Uuid, ChangedTicket>, sqlx::Error> {
        let ids: Vec<Uuid> = events.iter().map(|(event, _)| event.stream_id).collect();
        let rows: Vec<ChangedTicket> = sqlx::query_as(
            "SELECT t.ticket_id, t.number, t.status, t.queue, t.priority, t.assignee, \
                    t.requester_user_id \
             FROM rm_tickets t \
             WHERE t.generation = (SELECT active_generation FROM projections WHERE name = 'tickets') \
               AND t.ticket_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|row| (row.ticket_id, row)).collect())
    }

    async fn queues(&self) {
        match queues::overview(&self.pool).await {
            Ok(overview) => {
                if let Some(hub) = self.hub.upgrade() {
                    let _ = hub.send(Arc::new(LiveMessage::Queues(overview)));
                }
            }
            Err(_) => tracing::warn!("live updates: cannot count the queues"),
        }
    }
}

/// `first` and whatever else NATS has ready, up to `BATCH_MAX`, without waiting.
fn take_batch(first: Message, subscriber: &mut Subscriber) -> Vec<Message> {
    let mut batch = vec![first];
    while batch.len() < BATCH_MAX {
        match subscriber.next().now_or_never() {
            Some(Some(message)) => batch.push(message),
            _ => break,
        }
    }
    batch
}

fn message(event: RelayedEvent, cursor: Cursor, ticket: Option<&ChangedTicket>) -> LiveMessage {
    LiveMessage::Ticket {
        change: TicketChange {
            id: event.stream_id,
            number: ticket.map(|ticket| ticket.number.clone()),
            version: event.stream_version,
            event_type: event.event_type,
            status: ticket.map(|ticket| ticket.status.clone()),
            queue: ticket.and_then(|ticket| ticket.queue.clone()),
            priority: ticket.map(|ticket| ticket.priority.clone()),
            assignee: ticket.and_then(|ticket| ticket.assignee.clone()),
            cursor: cursor.to_string(),
        },
        requester_user_id: ticket.and_then(|ticket| ticket.requester_user_id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_dropped_within_the_window() {
        let mut seen = Seen::default();
        let first = Uuid::from_u128(1);
        assert!(seen.insert(first));
        assert!(!seen.insert(first));
        for n in 2..=(SEEN_MAX as u128 + 1) {
            assert!(seen.insert(Uuid::from_u128(n)));
        }
        assert!(seen.insert(first), "forgotten after SEEN_MAX newer ids");
    }
}
