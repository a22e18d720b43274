//! State of one ticket, evolved from its events.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::TicketEvent;
use super::fields::FieldValue;
use super::lifecycle::Status;
use super::priority::{Level, Priority};
use super::values::{
    ArticleBody, Channel, Description, LinkType, PendingReason, Requester, TicketId, TicketNumber,
    TicketType, Title,
};
use crate::asset::AssetId;

/// The assets of a ticket that names none.
static NO_ASSETS: BTreeSet<AssetId> = BTreeSet::new();

/// A link from this ticket to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Link {
    /// How the tickets relate.
    pub link_type: LinkType,
    /// The other ticket.
    pub target: TicketId,
}

/// Why and until when a pending ticket waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// What it waits for.
    pub reason: PendingReason,
    /// When waiting is expected to end.
    pub until: Option<DateTime<Utc>>,
}

/// The solution of a resolved ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Resolution code.
    pub code: String,
    /// What was done.
    pub text: ArticleBody,
    /// When; the reopen window starts here.
    pub resolved_at: DateTime<Utc>,
}

/// Everything an opened ticket has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpenTicket {
    pub(crate) id: TicketId,
    pub(crate) number: TicketNumber,
    pub(crate) ticket_type: TicketType,
    pub(crate) status: Status,
    pub(crate) title: Title,
    pub(crate) description: Description,
    pub(crate) requester: Requester,
    pub(crate) service_id: Option<String>,
    pub(crate) category_id: Option<String>,
    pub(crate) impact: Level,
    pub(crate) urgency: Level,
    pub(crate) priority: Priority,
    pub(crate) queue: Option<String>,
    pub(crate) assignee: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) fields: BTreeMap<String, FieldValue>,
    pub(crate) channel: Channel,
    pub(crate) pending: Option<Pending>,
    pub(crate) resolution: Option<Resolution>,
    pub(crate) merged_into: Option<TicketId>,
    pub(crate) links: Vec<Link>,
    /// The assets the ticket names.
    #[serde(default)]
    pub(crate) assets: BTreeSet<AssetId>,
    pub(crate) article_count: u32,
}

/// A ticket as its events made it. `Ticket::default()` is a ticket not yet opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    version: u64,
    open: Option<OpenTicket>,
}

impl Ticket {
    /// Rebuilds a ticket from its events, oldest first.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a TicketEvent>) -> Ticket {
        let mut ticket = Ticket::default();
        for event in events {
            ticket.apply(event);
        }
        ticket
    }

    /// Evolves the ticket by one event. Events are facts: this never fails. An event other
    /// than `Opened` before the ticket was opened only counts towards the version.
    pub fn apply(&mut self, event: &TicketEvent) {
        self.version += 1;
        match (&mut self.open, event) {
            (None, _) => self.open = OpenTicket::from_opened(event),
            (Some(open), _) => open.apply(event),
        }
    }

    /// The opened ticket, for decisions.
    pub(crate) fn open(&self) -> Option<&OpenTicket> {
        self.open.as_ref()
    }

    /// Number of events applied.
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// Whether the ticket has been opened.
    pub const fn is_opened(&self) -> bool {
        self.open.is_some()
    }

    /// The ticket's id, once opened.
    pub fn id(&self) -> Option<TicketId> {
        self.open.as_ref().map(|open| open.id)
    }

    /// The ticket's number, once opened.
    pub fn number(&self) -> Option<TicketNumber> {
        self.open.as_ref().map(|open| open.number)
    }

    /// The ticket's type, once opened.
    pub fn ticket_type(&self) -> Option<TicketType> {
        self.open.as_ref().map(|open| open.ticket_type)
    }

    /// The lifecycle status, once opened.
    pub fn status(&self) -> Option<Status> {
        self.open.as_ref().map(|open| open.status)
    }

    /// The title, once opened.
    pub fn title(&self) -> Option<&Title> {
        self.open.as_ref().map(|open| &open.title)
    }

    /// The description, once opened.
    pub fn description(&self) -> Option<&Description> {
        self.open.as_ref().map(|open| &open.description)
    }

    /// The requester, once opened.
    pub fn requester(&self) -> Option<&Requester> {
        self.open.as_ref().map(|open| &open.requester)
    }

    /// The affected service.
    pub fn service_id(&self) -> Option<&str> {
        self.open
            .as_ref()
            .and_then(|open| open.service_id.as_deref())
    }

    /// The category.
    pub fn category_id(&self) -> Option<&str> {
        self.open
            .as_ref()
            .and_then(|open| open.category_id.as_deref())
    }

    /// Impact, once opened.
    pub fn impact(&self) -> Option<Level> {
        self.open.as_ref().map(|open| open.impact)
    }

    /// Urgency, once opened.
    pub fn urgency(&self) -> Option<Level> {
        self.open.as_ref().map(|open| open.urgency)
    }

    /// Priority, once opened.
    pub fn priority(&self) -> Option<Priority> {
        self.open.as_ref().map(|open| open.priority)
    }

    /// The queue.
    pub fn queue(&self) -> Option<&str> {
        self.open.as_ref().and_then(|open| open.queue.as_deref())
    }

    /// The assignee.
    pub fn assignee(&self) -> Option<&str> {
        self.open.as_ref().and_then(|open| open.assignee.as_deref())
    }

    /// Sorted distinct tags.
    pub fn tags(&self) -> &[String] {
        self.open.as_ref().map_or(&[], |open| &open.tags)
    }

    /// The dynamic fields set.
    pub fn fields(&self) -> Option<&BTreeMap<String, FieldValue>> {
        self.open.as_ref().map(|open| &open.fields)
    }

    /// Where the ticket came from, once opened.
    pub fn channel(&self) -> Option<Channel> {
        self.open.as_ref().map(|open| open.channel)
    }

    /// Why the ticket waits, while pending.
    pub fn pending(&self) -> Option<&Pending> {
        self.open.as_ref().and_then(|open| open.pending.as_ref())
    }

    /// The solution, while resolved (and after closing).
    pub fn resolution(&self) -> Option<&Resolution> {
        self.open.as_ref().and_then(|open| open.resolution.as_ref())
    }

    /// When the ticket was resolved, while resolved (and after closing).
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolution().map(|resolution| resolution.resolved_at)
    }

    /// The ticket this one was merged into.
    pub fn merged_into(&self) -> Option<TicketId> {
        self.open.as_ref().and_then(|open| open.merged_into)
    }

    /// Links to other tickets, in the order they were made.
    pub fn links(&self) -> &[Link] {
        self.open.as_ref().map_or(&[], |open| &open.links)
    }

    /// The assets the ticket names, by id.
    pub fn assets(&self) -> &BTreeSet<AssetId> {
        self.open.as_ref().map_or(&NO_ASSETS, |open| &open.assets)
    }

    /// Number of articles; also the id of the latest one.
    pub fn article_count(&self) -> u32 {
        self.open.as_ref().map_or(0, |open| open.article_count)
    }
}

impl OpenTicket {
    /// The ticket an `Opened` event describes; `None` for any other event.
    fn from_opened(event: &TicketEvent) -> Option<Self> {
        let TicketEvent::Opened {
            id,
            number,
            ticket_type,
            title,
            description,
            requester,
            service_id,
            category_id,
            impact,
            urgency,
            priority,
            queue,
            tags,
            fields,
            channel,
        } = event.clone()
        else {
            return None;
        };
        Some(Self {
            id,
            number,
            ticket_type,
            status: Status::New,
            title,
            description,
            requester,
            service_id,
            category_id,
            impact,
            urgency,
            priority,
            queue,
            assignee: None,
            tags,
            fields,
            channel,
            pending: None,
            resolution: None,
            merged_into: None,
            links: Vec::new(),
            assets: BTreeSet::new(),
            article_count: 0,
        })
    }

    fn apply(&mut self, event: &TicketEvent) {
        match event {
            TicketEvent::Opened { .. } => {}
            TicketEvent::Assigned {
                assignee, queue, ..
            } => {
                self.assignee = Some(assignee.clone());
                self.queue.clone_from(queue);
                self.move_to(Status::Assigned);
            }
            TicketEvent::WorkStarted { .. } => self.move_to(Status::InProgress),
            TicketEvent::PendingSet { reason, until } => {
                self.move_to(Status::Pending);
                self.pending = Some(Pending {
                    reason: *reason,
                    until: *until,
                });
            }
            TicketEvent::Resolved {
                code,
                text,
                resolved_at,
            } => {
                self.move_to(Status::Resolved);
                let resolution = Resolution {
                    code: code.clone(),
                    text: text.clone(),
                    resolved_at: *resolved_at,
                };
                self.resolution = Some(resolution);
            }
            TicketEvent::Reopened { to, .. } => {
                self.resolution = None;
                self.move_to(*to);
            }
            other => self.apply_other(other),
        }
    }

    fn apply_other(&mut self, event: &TicketEvent) {
        match event {
            TicketEvent::Closed {} => self.move_to(Status::Closed),
            TicketEvent::Cancelled { .. } => self.move_to(Status::Cancelled),
            TicketEvent::Merged { into } => {
                self.merged_into = Some(*into);
                self.move_to(Status::Merged);
            }
            TicketEvent::ArticleAdded { article_id, .. } => self.article_count = *article_id,
            TicketEvent::PriorityChanged {
                impact,
                urgency,
                priority,
                ..
            } => {
                (self.impact, self.urgency, self.priority) = (*impact, *urgency, *priority);
            }
            TicketEvent::FieldsChanged { set, removed } => {
                self.fields
                    .extend(set.iter().map(|(key, value)| (key.clone(), value.clone())));
                removed.iter().for_each(|key| drop(self.fields.remove(key)));
            }
            TicketEvent::TagsChanged { tags } => self.tags.clone_from(tags),
            TicketEvent::Linked { link_type, target } => {
                self.links.push(Link {
                    link_type: *link_type,
                    target: *target,
                });
            }
            TicketEvent::Unlinked { link_type, target } => {
                self.links
                    .retain(|link| link.link_type != *link_type || link.target != *target);
            }
            TicketEvent::AssetLinked { asset_id } => drop(self.assets.insert(*asset_id)),
            TicketEvent::AssetUnlinked { asset_id } => drop(self.assets.remove(asset_id)),
            _ => {}
        }
    }

    /// Changes the status; leaving pending forgets why it waited.
    fn move_to(&mut self, status: Status) {
        if status != Status::Pending {
            self.pending = None;
        }
        self.status = status;
    }
}
