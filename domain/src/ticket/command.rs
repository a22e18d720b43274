//! Commands to the ticket aggregate, in the imperative, as they arrive over HTTP.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::priority::Level;
use super::values::{
    ArticleBody, Attachment, Channel, Description, LinkType, PendingReason, Requester, TicketId,
    TicketNumber, TicketType, Title,
};
use crate::asset::AssetId;

/// Body of `POST /api/v1/tickets`. Optional fields default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTicket {
    /// Incident or service request.
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    /// Short summary, 1 to 200 characters.
    pub title: Title,
    /// Free text, at most 64 KiB.
    #[serde(default)]
    pub description: Description,
    /// The person the ticket is for.
    pub requester: Requester,
    /// How much is affected.
    pub impact: Level,
    /// How soon it hurts.
    pub urgency: Level,
    /// The affected service from the catalog.
    #[serde(default)]
    pub service_id: Option<String>,
    /// The category.
    #[serde(default)]
    pub category_id: Option<String>,
    /// The queue that should handle it.
    #[serde(default)]
    pub queue: Option<String>,
    /// Up to 50 tags of 1 to 64 characters; stored sorted without duplicates.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Dynamic fields, checked against the policy's field definitions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where the ticket came from; `api` unless given.
    #[serde(default = "Channel::api")]
    pub channel: Channel,
}

/// A command to a ticket, from `{"type": "<snake_case name>", …}`.
///
/// `Open` cannot be deserialized: the server builds it from a [`NewTicket`] after choosing the
/// id and the number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[allow(
    clippy::large_enum_variant,
    reason = "one command per request; boxing would only add noise"
)]
pub enum TicketCommand {
    /// Open a new ticket.
    #[serde(skip)]
    Open {
        /// The new ticket's id.
        id: TicketId,
        /// The new ticket's number.
        number: TicketNumber,
        /// What the requester asked for.
        ticket: NewTicket,
    },
    /// Make someone responsible, optionally moving the ticket to another queue.
    Assign {
        /// The agent's user id.
        assignee: String,
        /// The new queue; the current one stays if absent.
        #[serde(default)]
        queue: Option<String>,
    },
    /// The assignee starts working on it.
    // An empty struct variant, not a unit variant: serde ignores unknown fields next to the tag
    // of a unit variant even with `deny_unknown_fields`.
    StartWork {},
    /// Wait for the requester, a third party or a change.
    SetPending {
        /// What the ticket waits for.
        reason: PendingReason,
        /// When waiting is expected to end.
        #[serde(default)]
        until: Option<DateTime<Utc>>,
    },
    /// Record the solution.
    Resolve {
        /// Resolution code, 1 to 64 characters.
        code: String,
        /// What was done.
        text: ArticleBody,
    },
    /// Reopen a resolved ticket within the reopen window.
    Reopen {
        /// Why it is not solved.
        reason: String,
    },
    /// Close a resolved ticket for good.
    // An empty struct variant for the same reason as `StartWork`.
    Close {},
    /// Withdraw the ticket.
    Cancel {
        /// Why.
        reason: String,
    },
    /// Merge this ticket into another one.
    Merge {
        /// The ticket that carries on.
        into: TicketId,
    },
    /// Reply to the requester.
    AddReply {
        /// The text.
        body: ArticleBody,
        /// Where it was written; `api` if absent.
        #[serde(default)]
        channel: Option<Channel>,
        /// Attached files.
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// Add a note only agents see.
    AddNote {
        /// The text.
        body: ArticleBody,
        /// Where it was written; `api` if absent.
        #[serde(default)]
        channel: Option<Channel>,
        /// Attached files.
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// Record a message from the requester.
    AddRequesterMessage {
        /// The text.
        body: ArticleBody,
        /// Where it came from; `api` if absent.
        #[serde(default)]
        channel: Option<Channel>,
        /// Attached files.
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// Change impact and urgency; the priority follows from the matrix.
    SetPriority {
        /// How much is affected.
        impact: Level,
        /// How soon it hurts.
        urgency: Level,
    },
    /// Set dynamic fields; a `null` value removes the field.
    SetFields {
        /// Keys and new values.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: BTreeMap<String, serde_json::Value>,
    },
    /// Replace the tags.
    SetTags {
        /// The new tags.
        tags: Vec<String>,
    },
    /// Link to another ticket.
    Link {
        /// How the tickets relate.
        link_type: LinkType,
        /// The other ticket.
        target: TicketId,
    },
    /// Remove a link.
    Unlink {
        /// How the tickets relate.
        link_type: LinkType,
        /// The other ticket.
        target: TicketId,
    },
    /// Name an asset from the CMDB the ticket is about (an affected device, software, …).
    LinkAsset {
        /// The asset's id; the asset must exist.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        asset_id: AssetId,
    },
    /// Stop naming an asset.
    UnlinkAsset {
        /// The asset's id.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
        asset_id: AssetId,
    },
    /// The SLA monitor records that a clock used a warning share of its target. Never from
    /// HTTP: only the monitor builds it.
    #[serde(skip_deserializing)]
    RecordSlaWarning {
        metric: crate::sla::Metric,
        percent: u8,
        /// When the share was used up (from the clock, not the monitor's wall clock).
        reached_at: DateTime<Utc>,
        policy: String,
    },
    /// The SLA monitor records that a clock ran past its target. Never from HTTP.
    #[serde(skip_deserializing)]
    RecordSlaBreach {
        metric: crate::sla::Metric,
        /// When the target was used up.
        due_at: DateTime<Utc>,
        policy: String,
    },
}

impl TicketCommand {
    /// The snake_case name, as in the `type` key; `"open"` for `Open`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Assign { .. } => "assign",
            Self::StartWork {} => "start_work",
            Self::SetPending { .. } => "set_pending",
            Self::Resolve { .. } => "resolve",
            Self::Reopen { .. } => "reopen",
            Self::Close {} => "close",
            Self::Cancel { .. } => "cancel",
            Self::Merge { .. } => "merge",
            Self::AddReply { .. } => "add_reply",
            Self::AddNote { .. } => "add_note",
            Self::AddRequesterMessage { .. } => "add_requester_message",
            Self::SetPriority { .. } => "set_priority",
            Self::SetFields { .. } => "set_fields",
            Self::SetTags { .. } => "set_tags",
            Self::Link { .. } => "link",
            Self::Unlink { .. } => "unlink",
            Self::LinkAsset { .. } => "link_asset",
            Self::UnlinkAsset { .. } => "unlink_asset",
            Self::RecordSlaWarning { .. } => "record_sla_warning",
            Self::RecordSlaBreach { .. } => "record_sla_breach",
        }
    }
}
