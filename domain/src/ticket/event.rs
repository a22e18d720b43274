//! Events of the ticket aggregate, in the past tense. Their type strings are written by hand
//! and never renamed; a new meaning is a new event type (DESIGN §7).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fields::FieldValue;
use super::lifecycle::Status;
use super::priority::{Level, Priority};
use super::values::{
    ArticleBody, ArticleKind, Attachment, Channel, Description, LinkType, PendingReason, Requester,
    TicketId, TicketNumber, TicketType, Title,
};
use crate::asset::AssetId;

/// Something that happened to a ticket. Who and when are in the event metadata, kept by the
/// store; only times that later decisions need (such as `resolved_at`) are in the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
#[allow(
    clippy::large_enum_variant,
    reason = "a handful of events per command; boxing would only add noise"
)]
pub enum TicketEvent {
    /// A ticket was opened.
    #[serde(rename = "ticket.opened")]
    Opened {
        /// The ticket's id.
        id: TicketId,
        /// The ticket's number.
        number: TicketNumber,
        /// Incident or service request.
        ticket_type: TicketType,
        /// Short summary.
        title: Title,
        /// Free text (personal data).
        description: Description,
        /// The person it is for (name, e-mail and phone are personal data).
        requester: Requester,
        /// The affected service.
        service_id: Option<String>,
        /// The category.
        category_id: Option<String>,
        /// How much is affected.
        impact: Level,
        /// How soon it hurts.
        urgency: Level,
        /// Priority from the matrix.
        priority: Priority,
        /// The queue.
        queue: Option<String>,
        /// Sorted distinct tags.
        tags: Vec<String>,
        /// Checked dynamic fields.
        fields: BTreeMap<String, FieldValue>,
        /// Where the ticket came from.
        channel: Channel,
    },
    /// Someone was made responsible.
    #[serde(rename = "ticket.assigned")]
    Assigned {
        /// The new assignee.
        assignee: String,
        /// The queue after the assignment.
        queue: Option<String>,
        /// Who was responsible before.
        previous_assignee: Option<String>,
    },
    /// The assignee started working.
    #[serde(rename = "ticket.work_started")]
    WorkStarted {
        /// Status before.
        from: Status,
    },
    /// The ticket waits.
    #[serde(rename = "ticket.pending_set")]
    PendingSet {
        /// What it waits for.
        reason: PendingReason,
        /// When waiting is expected to end.
        until: Option<DateTime<Utc>>,
    },
    /// The ticket was solved.
    #[serde(rename = "ticket.resolved")]
    Resolved {
        /// Resolution code.
        code: String,
        /// What was done (personal data).
        text: ArticleBody,
        /// When; the reopen window starts here.
        resolved_at: DateTime<Utc>,
    },
    /// A resolved ticket was reopened.
    #[serde(rename = "ticket.reopened")]
    Reopened {
        /// Why (personal data).
        reason: String,
        /// Status after reopening.
        to: Status,
    },
    /// The ticket was closed for good.
    #[serde(rename = "ticket.closed")]
    Closed {},
    /// The ticket was withdrawn.
    #[serde(rename = "ticket.cancelled")]
    Cancelled {
        /// Why (personal data).
        reason: String,
    },
    /// The ticket was merged into another one.
    #[serde(rename = "ticket.merged")]
    Merged {
        /// The ticket that carries on.
        into: TicketId,
    },
    /// A reply, note or requester message was added.
    #[serde(rename = "ticket.article_added")]
    ArticleAdded {
        /// Number of the article on this ticket, from 1.
        article_id: u32,
        /// Reply, note or requester message.
        kind: ArticleKind,
        /// Where it was written.
        channel: Channel,
        /// The text (personal data).
        body: ArticleBody,
        /// Attached files.
        attachments: Vec<Attachment>,
    },
    /// Impact or urgency changed, and with them the priority.
    #[serde(rename = "ticket.priority_changed")]
    PriorityChanged {
        /// New impact.
        impact: Level,
        /// New urgency.
        urgency: Level,
        /// New priority.
        priority: Priority,
        /// Priority before.
        previous: Priority,
    },
    /// Dynamic fields were set or removed.
    #[serde(rename = "ticket.fields_changed")]
    FieldsChanged {
        /// Fields with their new values.
        set: BTreeMap<String, FieldValue>,
        /// Keys of removed fields.
        removed: Vec<String>,
    },
    /// The tags were replaced.
    #[serde(rename = "ticket.tags_changed")]
    TagsChanged {
        /// The new sorted distinct tags.
        tags: Vec<String>,
    },
    /// A link to another ticket was added.
    #[serde(rename = "ticket.linked")]
    Linked {
        /// How the tickets relate.
        link_type: LinkType,
        /// The other ticket.
        target: TicketId,
    },
    /// A link to another ticket was removed.
    #[serde(rename = "ticket.unlinked")]
    Unlinked {
        /// How the tickets related.
        link_type: LinkType,
        /// The other ticket.
        target: TicketId,
    },
    /// An SLA clock used a warning share of its target (recorded by the SLA monitor).
    #[serde(rename = "ticket.sla_warning_reached")]
    SlaWarningReached {
        /// first_response or resolution.
        metric: crate::sla::Metric,
        /// The share of the target, in percent.
        percent: u8,
        /// When the share was used up.
        reached_at: DateTime<Utc>,
        /// The policy the clock runs under.
        policy: String,
    },
    /// An SLA clock ran past its target (recorded by the SLA monitor).
    #[serde(rename = "ticket.sla_breached")]
    SlaBreached {
        /// first_response or resolution.
        metric: crate::sla::Metric,
        /// When the target was used up.
        due_at: DateTime<Utc>,
        /// The policy the clock runs under.
        policy: String,
    },
    /// An asset was named as affected by the ticket.
    #[serde(rename = "ticket.asset_linked")]
    AssetLinked {
        /// The asset.
        asset_id: AssetId,
    },
    /// An asset is no longer named by the ticket.
    #[serde(rename = "ticket.asset_unlinked")]
    AssetUnlinked {
        /// The asset.
        asset_id: AssetId,
    },
}

impl TicketEvent {
    /// Every event type string, in declaration order.
    pub const EVENT_TYPES: &'static [&'static str] = &[
        "ticket.opened",
        "ticket.assigned",
        "ticket.work_started",
        "ticket.pending_set",
        "ticket.resolved",
        "ticket.reopened",
        "ticket.closed",
        "ticket.cancelled",
        "ticket.merged",
        "ticket.article_added",
        "ticket.priority_changed",
        "ticket.fields_changed",
        "ticket.tags_changed",
        "ticket.linked",
        "ticket.unlinked",
        "ticket.sla_warning_reached",
        "ticket.sla_breached",
        "ticket.asset_linked",
        "ticket.asset_unlinked",
    ];

    /// Event type → JSON pointers to the personal data in the serialized event (the object
    /// that also holds `event_type`). The store encrypts these per data subject.
    pub const PERSONAL_DATA: &'static [(&'static str, &'static [&'static str])] = &[
        (
            "ticket.opened",
            &[
                "/requester/name",
                "/requester/email",
                "/requester/phone",
                "/requester/user_id",
                "/description",
            ],
        ),
        ("ticket.resolved", &["/text"]),
        ("ticket.article_added", &["/body"]),
        ("ticket.cancelled", &["/reason"]),
        ("ticket.reopened", &["/reason"]),
    ];

    /// The hand-written type string, the same as `event_type` in the JSON.
    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "ticket.opened",
            Self::Assigned { .. } => "ticket.assigned",
            Self::WorkStarted { .. } => "ticket.work_started",
            Self::PendingSet { .. } => "ticket.pending_set",
            Self::Resolved { .. } => "ticket.resolved",
            Self::Reopened { .. } => "ticket.reopened",
            Self::Closed {} => "ticket.closed",
            Self::Cancelled { .. } => "ticket.cancelled",
            Self::Merged { .. } => "ticket.merged",
            Self::ArticleAdded { .. } => "ticket.article_added",
            Self::PriorityChanged { .. } => "ticket.priority_changed",
            Self::FieldsChanged { .. } => "ticket.fields_changed",
            Self::TagsChanged { .. } => "ticket.tags_changed",
            Self::Linked { .. } => "ticket.linked",
            Self::Unlinked { .. } => "ticket.unlinked",
            Self::SlaWarningReached { .. } => "ticket.sla_warning_reached",
            Self::SlaBreached { .. } => "ticket.sla_breached",
            Self::AssetLinked { .. } => "ticket.asset_linked",
            Self::AssetUnlinked { .. } => "ticket.asset_unlinked",
        }
    }

    /// Version of the payload schema of this event type; 1 for all so far.
    pub const fn event_version(&self) -> u32 {
        1
    }

    /// JSON pointers to the personal data of this event (empty when there is none).
    pub fn personal_data(&self) -> &'static [&'static str] {
        personal_data_of(self.event_type())
    }
}

/// JSON pointers to the personal data of an event type (empty when there is none).
pub fn personal_data_of(event_type: &str) -> &'static [&'static str] {
    TicketEvent::PERSONAL_DATA
        .iter()
        .find(|(name, _)| *name == event_type)
        .map_or(&[], |(_, pointers)| pointers)
}
