//! `GET /api/v1/search?q=`: ranked full text over ticket number, title, description and
//! articles (a ticket ranks by its best match). Umlauts fold (`projector::search::fold`), every
//! word is a prefix. Agents search the queues their teams may read; requesters their own tickets
//! (and their unit's if granted), never internal notes.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use command_service::auth::Actor;
use command_service::error::{ApiError, Problem};
use domain::access::QueueRight;
use projector::search::{tsquery, QUERY_CHARS_MAX};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::extract::{invalid, is_ticket_number, visibility_of, Params};
use crate::read_model::{summary_columns, TicketSummary};
use crate::AppState;

/// Results without `limit`.
pub const SEARCH_LIMIT_DEFAULT: u32 = 20;
/// The rank of an exact ticket-number match: above any text rank.
const NUMBER_MATCH_RANK: f64 = 10.0;

/// The search's parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the parameters; parsing is in `search`")]
pub struct SearchParams {
    /// What to look for: words (each a prefix, all required, umlauts optional) or a ticket
    /// number; 1 to 200 characters.
    q: String,
    /// Results, 1 to the configured page maximum (200 by default); default 20.
    limit: Option<u32>,
    /// Consistency token of a command: wait until the search reflects it.
    after: Option<String>,
}

/// A ticket that matched.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SearchHit {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub ticket: TicketSummary,
    /// How well it matched (higher is better; an exact number match ranks highest).
    pub rank: f64,
}

/// The matches, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
}

/// The best rank per ticket of: the ticket's own text, its articles (without internal notes
/// unless `$3`), and an exact number match; then only tickets the caller may read (an agent's,
/// `$3`, outside the queues `$7` their teams may not read; anyone's own, `$4`, and those of the
/// other requesters `$8` visible to them: their unit's, if granted).
pub(crate) const SEARCH_SQL: &str = concat!(
    "WITH g AS (SELECT active_generation AS generation FROM projections WHERE name = 'tickets'), \
     q AS (SELECT to_tsquery('german', $1) AS query), \
     hits AS ( \
       SELECT t.ticket_id, ts_rank(t.search, q.query)::float8 AS rank \
       FROM rm_tickets t, g, q WHERE t.generation = g.generation AND t.search @@ q.query \
       UNION ALL \
       SELECT a.ticket_id, ts_rank(a.search, q.query)::float8 \
       FROM rm_articles a, g, q WHERE a.generation = g.generation AND a.search @@ q.query \
         AND ($3 OR a.kind <> 'internal_note') \
       UNION ALL \
       SELECT t.ticket_id, $6::float8 FROM rm_tickets t, g \
       WHERE t.generation = g.generation AND t.number = $2 \
     ), \
     best AS (SELECT ticket_id, max(rank) AS rank FROM hits GROUP BY ticket_id) \
     SELECT ",
    summary_columns!(),
    ", b.rank FROM best b \
     JOIN g ON true \
     JOIN rm_tickets t ON t.generation = g.generation AND t.ticket_id = b.ticket_id \
     WHERE (($3 AND (t.queue IS NULL OR NOT (t.queue = ANY($7)))) OR t.requester_user_id = $4 OR t.requester_user_id = ANY($8)) \
     ORDER BY b.rank DESC, t.updated_at DESC, t.ticket_id LIMIT $5"
);

/// Search tickets.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching tickets, best first", body = SearchResults),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing, empty or too long `q`, or another invalid or unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read model did not reach `after` in time (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow_only(&["q", "limit"])?;
    let text = params
        .one("q")?
        .ok_or_else(|| invalid("q", "what to search for is missing"))?;
    if text.chars().count() > QUERY_CHARS_MAX {
        return Err(invalid(
            "q",
            &format!("at most {QUERY_CHARS_MAX} characters"),
        ));
    }
    let number = is_ticket_number(text).then_some(text);
    let words = tsquery(text);
    if words.is_none() && number.is_none() {
        return Err(invalid("q", "contains no word to search for"));
    }
    let limit = params.limit(SEARCH_LIMIT_DEFAULT, state.limits.page_size_max)?;
    let after = params.after()?;
    state
        .consistency
        .wait(after, state.limits.consistency_wait)
        .await?;
    let scope = state.directory.scope_of(&actor).await?;
    let visibility = visibility_of(&state, &actor).await?;
    let items: Vec<SearchHit> = sqlx::query_as(SEARCH_SQL)
        .bind(words)
        .bind(number)
        .bind(actor.is_agent())
        .bind(&actor.user)
        .bind(i64::from(limit))
        .bind(NUMBER_MATCH_RANK)
        .bind(scope.denied_queues(QueueRight::Read))
        .bind(Vec::from_iter(visibility.requesters))
        .fetch_all(&state.pool)
        .await?;
    let mut response = Json(SearchResults { items }).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}
