//! The decision function: state + command + context → events or the broken rule.
//!
//! Commands that would change nothing (same impact and urgency, same fields, same tags, the
//! same assignee on an assigned ticket) succeed with no events, so that retries are harmless.

use std::collections::BTreeMap;

use serde_json::Value;

use super::command::{NewTicket, TicketCommand};
use super::error::{TicketError, ValueError};
use super::event::TicketEvent;
use super::fields::FieldValue;
use super::lifecycle::{transition, Status};
use super::policy::{DecisionContext, TicketPolicy};
use super::priority::Level;
use super::state::{Link, OpenTicket, Ticket};
use super::values::{
    check_identifier, check_line, ArticleBody, ArticleKind, Attachment, Channel, PendingReason,
    TicketId, TicketNumber, TicketType, ATTACHMENTS_PER_ARTICLE_MAX,
};
use crate::asset::AssetId;

/// Most distinct tags on a ticket.
pub const TAGS_MAX: usize = 50;
/// Longest tag in characters.
pub const TAG_CHARS_MAX: usize = 64;
/// Longest resolution code in characters.
pub const RESOLUTION_CODE_CHARS_MAX: usize = 64;
/// Longest reason (cancel, reopen) in characters.
pub const REASON_CHARS_MAX: usize = 1_000;
/// Most links from one ticket.
pub const LINKS_PER_TICKET_MAX: usize = 100;
/// Most assets one ticket names.
pub const ASSETS_PER_TICKET_MAX: usize = 100;
/// Most articles on one ticket.
pub const ARTICLES_PER_TICKET_MAX: u32 = 100_000;

type Decision = Result<Vec<TicketEvent>, TicketError>;

/// Decides what a command does to a ticket: the events to append, or the rule it breaks.
pub fn decide(state: &Ticket, command: TicketCommand, ctx: &DecisionContext) -> Decision {
    match (state.open(), command) {
        (None, TicketCommand::Open { id, number, ticket }) => open(id, number, ticket, ctx.policy),
        (Some(_), TicketCommand::Open { .. }) => Err(TicketError::AlreadyOpened),
        (None, _) => Err(TicketError::NotOpened),
        (Some(ticket), command) => decide_on_opened(ticket, command, ctx),
    }
}

fn decide_on_opened(
    ticket: &OpenTicket,
    command: TicketCommand,
    ctx: &DecisionContext,
) -> Decision {
    use ArticleKind::{InternalNote, PublicReply, RequesterMessage};
    let unassigned = ticket.assignee.is_none() && !ticket.status.is_terminal();
    if matches!(command, TicketCommand::StartWork {}) && unassigned {
        return Err(TicketError::AssigneeRequired);
    }
    let to = transition(command.name(), ticket.status, ticket.assignee.is_some())?;
    match command {
        TicketCommand::Open { .. } => Err(TicketError::AlreadyOpened),
        TicketCommand::Assign { assignee, queue } => assign(ticket, assignee, queue),
        TicketCommand::StartWork {} => Ok(vec![TicketEvent::WorkStarted {
            from: ticket.status,
        }]),
        TicketCommand::SetPending { reason, until } => {
            Ok(vec![TicketEvent::PendingSet { reason, until }])
        }
        TicketCommand::Resolve { code, text } => resolve(code, text, ctx),
        TicketCommand::Reopen { reason } => reopen(ticket, reason, to, ctx),
        TicketCommand::Close {} => Ok(vec![TicketEvent::Closed {}]),
        TicketCommand::Cancel { reason } => cancel(reason),
        TicketCommand::Merge { into } => merge(ticket, into),
        TicketCommand::AddReply {
            body,
            channel,
            attachments,
        } => add_article(
            ticket,
            NewArticle::new(PublicReply, body, channel, attachments),
        ),
        TicketCommand::AddNote {
            body,
            channel,
            attachments,
        } => add_article(
            ticket,
            NewArticle::new(InternalNote, body, channel, attachments),
        ),
        TicketCommand::AddRequesterMessage {
            body,
            channel,
            attachments,
        } => add_requester_message(
            ticket,
            NewArticle::new(RequesterMessage, body, channel, attachments),
        ),
        TicketCommand::SetPriority { impact, urgency } => {
            set_priority(ticket, impact, urgency, ctx.policy)
        }
        TicketCommand::SetFields { fields } => set_fields(ticket, fields, ctx.policy),
        TicketCommand::SetTags { tags } => set_tags(ticket, tags),
        TicketCommand::Link { link_type, target } => link(ticket, Link { link_type, target }),
        TicketCommand::Unlink { link_type, target } => unlink(ticket, Link { link_type, target }),
        TicketCommand::LinkAsset { asset_id } => link_asset(ticket, asset_id),
        TicketCommand::UnlinkAsset { asset_id } => unlink_asset(ticket, asset_id),
        TicketCommand::RecordSlaWarning {
            metric,
            percent,
            reached_at,
            policy,
        } => Ok(vec![TicketEvent::SlaWarningReached {
            metric,
            percent,
            reached_at,
            policy,
        }]),
        TicketCommand::RecordSlaBreach {
            metric,
            due_at,
            policy,
        } => Ok(vec![TicketEvent::SlaBreached {
            metric,
            due_at,
            policy,
        }]),
    }
}

fn open(id: TicketId, number: TicketNumber, ticket: NewTicket, policy: &TicketPolicy) -> Decision {
    if !matches!(
        ticket.ticket_type,
        TicketType::Incident | TicketType::ServiceRequest
    ) {
        return Err(TicketError::TicketTypeNotSupported);
    }
    let invalid = |(field, error): (&str, ValueError)| TicketError::invalid(field, error);
    ticket.requester.validate().map_err(invalid)?;
    check_optional_identifier("service_id", ticket.service_id.as_deref())?;
    check_optional_identifier("category_id", ticket.category_id.as_deref())?;
    check_optional_identifier("queue", ticket.queue.as_deref())?;
    let tags = normalize_tags(ticket.tags)?;
    let fields = initial_fields(&ticket.fields, policy)?;
    let priority = policy
        .priority_matrix
        .priority(ticket.impact, ticket.urgency);
    Ok(vec![TicketEvent::Opened {
        id,
        number,
        ticket_type: ticket.ticket_type,
        title: ticket.title,
        description: ticket.description,
        requester: ticket.requester,
        service_id: ticket.service_id,
        category_id: ticket.category_id,
        impact: ticket.impact,
        urgency: ticket.urgency,
        priority,
        queue: ticket.queue,
        tags,
        fields,
        channel: ticket.channel,
    }])
}

fn assign(ticket: &OpenTicket, assignee: String, queue: Option<String>) -> Decision {
    check_identifier(&assignee).map_err(|error| TicketError::invalid("assignee", error))?;
    check_optional_identifier("queue", queue.as_deref())?;
    let queue = queue.or_else(|| ticket.queue.clone());
    let unchanged = ticket.status == Status::Assigned
        && ticket.assignee.as_ref() == Some(&assignee)
        && ticket.queue == queue;
    if unchanged {
        return Ok(vec![]);
    }
    let previous_assignee = ticket.assignee.clone();
    Ok(vec![TicketEvent::Assigned {
        assignee,
        queue,
        previous_assignee,
    }])
}

fn resolve(code: String, text: ArticleBody, ctx: &DecisionContext) -> Decision {
    let too_long = ValueError::ResolutionCodeTooLong {
        max: RESOLUTION_CODE_CHARS_MAX,
    };
    check_line(
        &code,
        RESOLUTION_CODE_CHARS_MAX,
        ValueError::ResolutionCodeEmpty,
        too_long,
    )
    .map_err(|error| TicketError::invalid("code", error))?;
    Ok(vec![TicketEvent::Resolved {
        code,
        text,
        resolved_at: ctx.now,
    }])
}

fn reopen(ticket: &OpenTicket, reason: String, to: Status, ctx: &DecisionContext) -> Decision {
    check_reason(&reason)?;
    let window_end = ticket
        .resolution
        .as_ref()
        .map(|resolution| resolution.resolved_at + ctx.policy.reopen_window);
    if window_end.is_none_or(|end| ctx.now > end) {
        return Err(TicketError::ReopenWindowExpired);
    }
    Ok(vec![TicketEvent::Reopened { reason, to }])
}

fn cancel(reason: String) -> Decision {
    check_reason(&reason)?;
    Ok(vec![TicketEvent::Cancelled { reason }])
}

fn merge(ticket: &OpenTicket, into: TicketId) -> Decision {
    if into == ticket.id {
        return Err(TicketError::CannotMergeIntoItself);
    }
    Ok(vec![TicketEvent::Merged { into }])
}

/// An article as the command describes it.
struct NewArticle {
    kind: ArticleKind,
    body: ArticleBody,
    channel: Channel,
    attachments: Vec<Attachment>,
}

impl NewArticle {
    /// Without a channel the article came through the API.
    fn new(
        kind: ArticleKind,
        body: ArticleBody,
        channel: Option<Channel>,
        attachments: Vec<Attachment>,
    ) -> Self {
        Self {
            kind,
            body,
            channel: channel.unwrap_or(Channel::Api),
            attachments,
        }
    }
}

fn add_article(ticket: &OpenTicket, article: NewArticle) -> Decision {
    if ticket.article_count >= ARTICLES_PER_TICKET_MAX {
        return Err(TicketError::TooManyArticles {
            max: ARTICLES_PER_TICKET_MAX,
        });
    }
    check_attachments(&article.attachments)?;
    Ok(vec![TicketEvent::ArticleAdded {
        article_id: ticket.article_count + 1,
        kind: article.kind,
        channel: article.channel,
        body: article.body,
        attachments: article.attachments,
    }])
}

/// A requester's message is an article; on a ticket waiting for the requester it is also the
/// answer waited for, so work resumes. A ticket waiting for anything else keeps waiting.
fn add_requester_message(ticket: &OpenTicket, article: NewArticle) -> Decision {
    let mut events = add_article(ticket, article)?;
    let waiting_for_requester = ticket.status == Status::Pending
        && ticket
            .pending
            .as_ref()
            .is_some_and(|pending| pending.reason == PendingReason::WaitingForRequester);
    // Pending is only reachable with an assignee, and work in progress needs one; a ticket
    // without one is not resumed rather than put in progress by nobody.
    if waiting_for_requester && ticket.assignee.is_some() {
        events.push(TicketEvent::WorkStarted {
            from: Status::Pending,
        });
    }
    Ok(events)
}

fn check_attachments(attachments: &[Attachment]) -> Result<(), TicketError> {
    if attachments.len() > ATTACHMENTS_PER_ARTICLE_MAX {
        let error = ValueError::TooManyAttachments {
            max: ATTACHMENTS_PER_ARTICLE_MAX,
        };
        return Err(TicketError::invalid("attachments", error));
    }
    for (index, attachment) in attachments.iter().enumerate() {
        attachment.validate().map_err(|(field, error)| {
            TicketError::invalid(format!("attachments[{index}].{field}"), error)
        })?;
    }
    Ok(())
}

fn set_priority(
    ticket: &OpenTicket,
    impact: Level,
    urgency: Level,
    policy: &TicketPolicy,
) -> Decision {
    let priority = policy.priority_matrix.priority(impact, urgency);
    if (impact, urgency, priority) == (ticket.impact, ticket.urgency, ticket.priority) {
        return Ok(vec![]);
    }
    let previous = ticket.priority;
    Ok(vec![TicketEvent::PriorityChanged {
        impact,
        urgency,
        priority,
        previous,
    }])
}

fn set_fields(
    ticket: &OpenTicket,
    fields: BTreeMap<String, Value>,
    policy: &TicketPolicy,
) -> Decision {
    let mut set = BTreeMap::new();
    let mut removed = Vec::new();
    for (key, value) in fields {
        if value.is_null() {
            if removable(ticket, &key, policy)? {
                removed.push(key);
            }
            continue;
        }
        let parsed = parse_field(&key, &value, policy)?;
        if ticket.fields.get(&key) != Some(&parsed) {
            set.insert(key, parsed);
        }
    }
    if set.is_empty() && removed.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![TicketEvent::FieldsChanged { set, removed }])
}

/// Whether removing the field changes anything. Required fields cannot be removed; fields the
/// policy no longer defines can.
fn removable(ticket: &OpenTicket, key: &str, policy: &TicketPolicy) -> Result<bool, TicketError> {
    match policy.field_definition(key) {
        Some(definition) if definition.required => Err(TicketError::RequiredFieldMissing {
            key: key.to_owned(),
        }),
        None if !ticket.fields.contains_key(key) => Err(TicketError::UnknownField {
            key: key.to_owned(),
        }),
        _ => Ok(ticket.fields.contains_key(key)),
    }
}

fn parse_field(key: &str, value: &Value, policy: &TicketPolicy) -> Result<FieldValue, TicketError> {
    let definition = policy
        .field_definition(key)
        .ok_or_else(|| TicketError::UnknownField {
            key: key.to_owned(),
        })?;
    definition
        .kind
        .parse(value)
        .map_err(|reason| TicketError::InvalidFieldValue {
            key: key.to_owned(),
            reason,
        })
}

/// The fields of a new ticket: `null` values of defined fields are left out; every required
/// field must be there.
fn initial_fields(
    fields: &BTreeMap<String, Value>,
    policy: &TicketPolicy,
) -> Result<BTreeMap<String, FieldValue>, TicketError> {
    let mut parsed = BTreeMap::new();
    for (key, value) in fields {
        if !value.is_null() {
            parsed.insert(key.clone(), parse_field(key, value, policy)?);
        } else if policy.field_definition(key).is_none() {
            return Err(TicketError::UnknownField { key: key.clone() });
        }
    }
    let missing = policy
        .field_definitions
        .iter()
        .find(|definition| definition.required && !parsed.contains_key(&definition.key));
    match missing {
        Some(definition) => Err(TicketError::RequiredFieldMissing {
            key: definition.key.clone(),
        }),
        None => Ok(parsed),
    }
}

fn set_tags(ticket: &OpenTicket, tags: Vec<String>) -> Decision {
    let tags = normalize_tags(tags)?;
    if tags == ticket.tags {
        return Ok(vec![]);
    }
    Ok(vec![TicketEvent::TagsChanged { tags }])
}

/// Checks each tag, then sorts them and drops duplicates.
fn normalize_tags(mut tags: Vec<String>) -> Result<Vec<String>, TicketError> {
    for (index, tag) in tags.iter().enumerate() {
        let too_long = ValueError::TagTooLong { max: TAG_CHARS_MAX };
        check_line(tag, TAG_CHARS_MAX, ValueError::TagEmpty, too_long)
            .map_err(|error| TicketError::invalid(format!("tags[{index}]"), error))?;
    }
    tags.sort();
    tags.dedup();
    if tags.len() > TAGS_MAX {
        return Err(TicketError::invalid(
            "tags",
            ValueError::TooManyTags { max: TAGS_MAX },
        ));
    }
    Ok(tags)
}

fn link(ticket: &OpenTicket, link: Link) -> Decision {
    if link.target == ticket.id {
        return Err(TicketError::CannotLinkToItself);
    }
    if ticket.links.contains(&link) {
        return Err(TicketError::AlreadyLinked);
    }
    if ticket.links.len() >= LINKS_PER_TICKET_MAX {
        return Err(TicketError::TooManyLinks {
            max: LINKS_PER_TICKET_MAX,
        });
    }
    Ok(vec![TicketEvent::Linked {
        link_type: link.link_type,
        target: link.target,
    }])
}

fn unlink(ticket: &OpenTicket, link: Link) -> Decision {
    if !ticket.links.contains(&link) {
        return Err(TicketError::NotLinked);
    }
    Ok(vec![TicketEvent::Unlinked {
        link_type: link.link_type,
        target: link.target,
    }])
}

fn link_asset(ticket: &OpenTicket, asset_id: AssetId) -> Decision {
    if ticket.assets.contains(&asset_id) {
        return Err(TicketError::AssetAlreadyLinked);
    }
    if ticket.assets.len() >= ASSETS_PER_TICKET_MAX {
        return Err(TicketError::TooManyAssets {
            max: ASSETS_PER_TICKET_MAX,
        });
    }
    Ok(vec![TicketEvent::AssetLinked { asset_id }])
}

fn unlink_asset(ticket: &OpenTicket, asset_id: AssetId) -> Decision {
    if !ticket.assets.contains(&asset_id) {
        return Err(TicketError::AssetNotLinked);
    }
    Ok(vec![TicketEvent::AssetUnlinked { asset_id }])
}

fn check_optional_identifier(field: &'static str, value: Option<&str>) -> Result<(), TicketError> {
    value
        .map_or(Ok(()), check_identifier)
        .map_err(|error| TicketError::invalid(field, error))
}

/// A reason may span lines but must say something and stay short.
fn check_reason(reason: &str) -> Result<(), TicketError> {
    let error = if reason.trim().is_empty() {
        ValueError::ReasonEmpty
    } else if reason.chars().count() > REASON_CHARS_MAX {
        ValueError::ReasonTooLong {
            max: REASON_CHARS_MAX,
        }
    } else {
        return Ok(());
    };
    Err(TicketError::invalid("reason", error))
}
