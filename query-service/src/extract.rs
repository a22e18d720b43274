//! Request extractors of the read API: the caller (bearer token), query parameters (unknown ones
//! refused by name, repeated ones only where a list is meant), the `{ticket}` segment, the
//! `If-None-Match` and `Accept` headers, and the `?after=` consistency token.

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use command_service::auth::{authenticate_headers, Actor};
use command_service::error::ApiError;
use domain::access::{QueueRight, Scope};
use event_store::Cursor;
use uuid::Uuid;

use crate::AppState;

/// Most other requesters a `unit` grant makes visible (the first by name; a bigger unit is cut
/// short, never widened).
pub const VISIBLE_REQUESTERS_MAX: i64 = 10_000;
/// Most parameters one request may carry.
const PARAMETERS_MAX: usize = 64;
/// Longest value of one parameter, in characters.
const PARAMETER_CHARS_MAX: usize = 1_000;

/// The caller of a read. Every read route needs a valid bearer token.
impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Authenticated once by the policy middleware (`command_service::policy::enforce`).
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        authenticate_headers(&state.pool, &parts.method, &parts.headers)
            .await?
            .ok_or(ApiError::Unauthenticated)
    }
}

/// Whether `actor` may read a ticket in `queue` whose requester is `requester_user_id`: agents
/// the tickets of the queues their teams may read (`scope`, issue 6), everyone the tickets of the
/// requesters in their `visibility` (their own, and their unit's if granted).
pub fn may_read(
    actor: &Actor,
    scope: &Scope,
    visibility: &Visibility,
    queue: Option<&str>,
    requester_user_id: Option<&str>,
) -> bool {
    (actor.is_agent() && scope.may(QueueRight::Read, queue))
        || requester_user_id.is_some_and(|requester| visibility.includes(requester))
}

/// Whose tickets a caller reads as a requester (issue 6 §1): their own, and — for a caller
/// without agent rights granted `unit` visibility — those of every user in their organisation
/// unit or below it. Computed once per request (or per live stream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    /// The caller's user name.
    pub own: String,
    /// The other users whose tickets the caller reads.
    pub requesters: BTreeSet<String>,
}

impl Visibility {
    /// Only the tickets of `user`.
    pub fn own(user: &str) -> Visibility {
        Visibility {
            own: user.to_owned(),
            requesters: BTreeSet::new(),
        }
    }

    /// Whether the tickets of `requester` are visible.
    pub fn includes(&self, requester: &str) -> bool {
        requester == self.own || self.requesters.contains(requester)
    }

    /// Every visible requester, the caller first (for `= ANY($n)`).
    pub fn all(&self) -> Vec<String> {
        std::iter::once(&self.own)
            .chain(&self.requesters)
            .cloned()
            .collect()
    }
}

/// The caller's organisation unit if their `rm_users` row grants `unit` visibility.
const UNIT_GRANT_SQL: &str = "\
SELECT org_unit FROM rm_users \
WHERE generation = (SELECT active_generation FROM projections WHERE name = $1) \
  AND user_name = $2 AND ticket_visibility = 'unit' AND NOT disabled AND org_unit IS NOT NULL";

/// The users in the units `$3` (`rm_users_org_unit_idx`).
const USERS_IN_UNITS_SQL: &str = "\
SELECT user_name FROM rm_users \
WHERE generation = (SELECT active_generation FROM projections WHERE name = $1) \
  AND org_unit = ANY($2) ORDER BY user_name LIMIT $3";

/// Whose tickets `actor` reads as a requester. Agents (who read by queue) and callers without a
/// `unit` grant cost no query beyond the one indexed lookup of their own row; only a granted
/// caller's unit subtree (`Directory::unit_and_descendants`) is looked up in `rm_users`.
pub async fn visibility_of(state: &AppState, actor: &Actor) -> Result<Visibility, ApiError> {
    let mut visibility = Visibility::own(&actor.user);
    if actor.is_agent() {
        return Ok(visibility);
    }
    let unit: Option<String> = sqlx::query_scalar(UNIT_GRANT_SQL)
        .bind(projector::identity::IDENTITY)
        .bind(&actor.user)
        .fetch_optional(&state.pool)
        .await?;
    let Some(unit) = unit else {
        return Ok(visibility);
    };
    let units: Vec<String> = state
        .directory
        .directory()
        .await?
        .unit_and_descendants(&unit)
        .into_iter()
        .collect();
    let names: Vec<String> = sqlx::query_scalar(USERS_IN_UNITS_SQL)
        .bind(projector::identity::IDENTITY)
        .bind(&units)
        .bind(VISIBLE_REQUESTERS_MAX)
        .fetch_all(&state.pool)
        .await?;
    if names.len() as i64 == VISIBLE_REQUESTERS_MAX {
        tracing::warn!(
            requesters.count = names.len(),
            "unit visibility cut short at VISIBLE_REQUESTERS_MAX"
        );
    }
    visibility.requesters = names
        .into_iter()
        .filter(|name| *name != actor.user)
        .collect();
    Ok(visibility)
}

/// The query string as decoded `(name, value)` pairs, in order.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(
                |_| {
                    invalid(
                        "query",
                        "the query string is not application/x-www-form-urlencoded",
                    )
                },
            )?;
        if pairs.len() > PARAMETERS_MAX {
            return Err(invalid("query", "too many parameters"));
        }
        if let Some((name, _)) = pairs
            .iter()
            .find(|(_, value)| value.chars().count() > PARAMETER_CHARS_MAX)
        {
            return Err(invalid(name, "value too long"));
        }
        Ok(Params(pairs))
    }
}

/// A 422 problem about parameter `name`.
pub fn invalid(name: &str, reason: &str) -> ApiError {
    ApiError::InvalidParameter {
        parameter: name.to_owned(),
        reason: reason.to_owned(),
    }
}

impl Params {
    /// Params from pairs (tests).
    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    /// Refuses the first parameter not in `known` (`after` is known everywhere).
    pub fn allow_only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(name, _)| name != "after" && !known.contains(&name.as_str()))
        {
            Some((name, _)) => Err(ApiError::UnknownParameter {
                parameter: name.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The value of a single-valued parameter; an empty value counts as absent, a repeated one
    /// is refused.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty());
        let first = values.next();
        if values.next().is_some() {
            return Err(invalid(name, "given more than once"));
        }
        Ok(first)
    }

    /// Every value of a list parameter, repeated (`status=new&status=pending`) or comma-separated
    /// (`status=new,pending`), without empty items.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect()
    }

    /// `limit`: `default` when absent; 1 to `max`, else 422.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        let Some(text) = self.one("limit")? else {
            return Ok(default.min(max));
        };
        let limit: u32 = text
            .parse()
            .map_err(|_| invalid("limit", "not a positive whole number"))?;
        if limit == 0 {
            return Err(invalid("limit", "must be at least 1"));
        }
        if limit > max {
            return Err(invalid("limit", &format!("must be at most {max}")));
        }
        Ok(limit)
    }

    /// `after`: the consistency token a command returned (`<transaction>.<position>`).
    pub fn after(&self) -> Result<Option<Cursor>, ApiError> {
        let Some(text) = self.one("after")? else {
            return Ok(None);
        };
        let cursor: Cursor = text.parse().map_err(|_| {
            invalid(
                "after",
                "expected a consistency token <transaction>.<position>",
            )
        })?;
        if cursor.transaction_id < 0 || cursor.global_position < 0 {
            return Err(invalid(
                "after",
                "expected a consistency token <transaction>.<position>",
            ));
        }
        Ok(Some(cursor))
    }
}

/// How a client names a ticket in the path: its id or its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketRef {
    Id(Uuid),
    Number(String),
}

impl TicketRef {
    /// `None` for text that is neither a UUID nor a ticket number (`2026-000123`).
    pub fn parse(text: &str) -> Option<TicketRef> {
        if let Ok(id) = text.parse::<Uuid>() {
            return Some(TicketRef::Id(id));
        }
        is_ticket_number(text).then(|| TicketRef::Number(text.to_owned()))
    }

    /// The id to look up (if an id).
    pub fn id(&self) -> Option<Uuid> {
        match self {
            TicketRef::Id(id) => Some(*id),
            TicketRef::Number(_) => None,
        }
    }

    /// The number to look up (if a number).
    pub fn number(&self) -> Option<&str> {
        match self {
            TicketRef::Id(_) => None,
            TicketRef::Number(number) => Some(number),
        }
    }
}

/// `^\d{4}-\d+$`, bounded in length.
pub fn is_ticket_number(text: &str) -> bool {
    let Some((year, sequence)) = text.split_once('-') else {
        return false;
    };
    year.len() == 4
        && !sequence.is_empty()
        && sequence.len() <= 12
        && year.bytes().all(|byte| byte.is_ascii_digit())
        && sequence.bytes().all(|byte| byte.is_ascii_digit())
}

/// The `{ticket}` path segment; one that does not decode is an unknown ticket.
#[derive(Clone, Debug)]
pub struct TicketPath(pub Option<TicketRef>);

impl<S: Send + Sync> FromRequestParts<S> for TicketPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::TicketNotFound)?;
        Ok(TicketPath(TicketRef::parse(&text)))
    }
}

/// `If-None-Match`: the entity tags the client holds.
#[derive(Clone, Debug, Default)]
pub struct IfNoneMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_NONE_MATCH) else {
            return Ok(IfNoneMatch(None));
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::InvalidHeader("If-None-Match"))?;
        Ok(IfNoneMatch(Some(text.to_owned())))
    }
}

impl IfNoneMatch {
    /// Whether the client's copy is `version` (weak comparison, as RFC 9110 asks for GET).
    pub fn matches(&self, version: i64) -> bool {
        let Some(text) = &self.0 else {
            return false;
        };
        let current = etag(version);
        text.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current.as_str())
    }
}

/// The strong entity tag of a ticket at `version`, as the command service returns it.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Headers every ticket read carries: its entity tag, and no shared caching (personal data).
pub fn with_etag(mut response: Response, version: i64) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// `304 Not Modified` for `version`.
pub fn not_modified(version: i64) -> Response {
    with_etag(
        axum::http::StatusCode::NOT_MODIFIED.into_response(),
        version,
    )
}

/// Whether the caller prefers CSV: `text/csv` is listed before any JSON media range.
pub fn wants_csv(headers: &HeaderMap) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    for range in accept.split(',') {
        let essence = range
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence == "text/csv" {
            return true;
        }
        if essence == "application/json" {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visibility_includes_the_caller_and_the_granted_requesters_only() {
        let mut visibility = Visibility::own("k.meier");
        visibility.requesters.insert("b.bau".to_owned());
        assert!(visibility.includes("k.meier"));
        assert!(visibility.includes("b.bau"));
        assert!(!visibility.includes("o.ordnung"));
        assert_eq!(visibility.all(), ["k.meier", "b.bau"]);
        let requester = Actor {
            user: "k.meier".to_owned(),
            roles: vec!["requester".to_owned()],
        };
        let scope = Scope::default();
        assert!(may_read(
            &requester,
            &scope,
            &visibility,
            None,
            Some("b.bau")
        ));
        assert!(!may_read(
            &requester,
            &scope,
            &visibility,
            None,
            Some("o.ordnung")
        ));
        assert!(!may_read(&requester, &scope, &visibility, None, None));
    }

    #[test]
    fn lists_take_repeated_and_comma_separated_values() {
        let params = Params::of(&[
            ("status", "new, assigned"),
            ("status", "pending"),
            ("x", "1"),
        ]);
        assert_eq!(params.list("status"), ["new", "assigned", "pending"]);
        assert!(params.one("status").is_err());
        assert_eq!(params.one("x").unwrap(), Some("1"));
    }

    #[test]
    fn unknown_parameters_are_named() {
        let params = Params::of(&[("queue", "a"), ("after", "1.2"), ("colour", "red")]);
        match params.allow_only(&["queue"]) {
            Err(ApiError::UnknownParameter { parameter }) => assert_eq!(parameter, "colour"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(Params::default().limit(50, 200).unwrap(), 50);
        assert_eq!(Params::of(&[("limit", "200")]).limit(50, 200).unwrap(), 200);
        assert!(Params::of(&[("limit", "201")]).limit(50, 200).is_err());
        assert!(Params::of(&[("limit", "0")]).limit(50, 200).is_err());
        assert!(Params::of(&[("limit", "-1")]).limit(50, 200).is_err());
    }

    #[test]
    fn ticket_refs_are_ids_or_numbers() {
        assert_eq!(
            TicketRef::parse("2026-000123"),
            Some(TicketRef::Number("2026-000123".into()))
        );
        assert!(matches!(
            TicketRef::parse("0193e1a0-7c2b-7d40-9a61-3f0c2b8e41d7"),
            Some(TicketRef::Id(_))
        ));
        assert_eq!(TicketRef::parse("26-1"), None);
        assert_eq!(TicketRef::parse("2026-"), None);
        assert_eq!(TicketRef::parse("2026-12a"), None);
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = |text: &str| IfNoneMatch(Some(text.to_owned()));
        assert!(tag("\"3\"").matches(3));
        assert!(tag("W/\"3\"").matches(3));
        assert!(tag("\"1\", \"3\"").matches(3));
        assert!(tag("*").matches(3));
        assert!(!tag("\"4\"").matches(3));
        assert!(!IfNoneMatch::default().matches(3));
    }

    #[test]
    fn csv_is_chosen_when_listed_before_json() {
        let accept = |text: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, text.parse().unwrap());
            wants_csv(&headers)
        };
        assert!(accept("text/csv"));
        assert!(accept("text/csv;q=0.9, application/json;q=0.5"));
        assert!(!accept("application/json, text/csv"));
        assert!(!accept("*/*"));
    }
}
