//! One readable sentence per history entry, German by default or English: a headline for the
//! event ("Zugewiesen an anna (vorher: niemand)") followed by what else changed ("Status:
//! Zugewiesen (vorher: Neu)"), with field names and values in the reader's language.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use command_service::i18n::Language;
use serde_json::Value;
use uuid::Uuid;

use super::Change;

/// Longest rendering of one value, in characters.
const VALUE_CHARS_MAX: usize = 120;

/// `(field, German, English)`: field labels; `fields.<key>` is "Zusatzfeld <key>".
const FIELD_LABELS: &[(&str, &str, &str)] = &[
    (
        "sla.first_response",
        "SLA Erstreaktion",
        "SLA first response",
    ),
    ("sla.resolution", "SLA Lösung", "SLA resolution"),
    ("status", "Status", "Status"),
    ("queue", "Warteschlange", "Queue"),
    ("assignee", "Bearbeiter:in", "Assignee"),
    ("priority", "Priorität", "Priority"),
    ("impact", "Auswirkung", "Impact"),
    ("urgency", "Dringlichkeit", "Urgency"),
    ("tags", "Schlagwörter", "Tags"),
    ("title", "Titel", "Title"),
    ("description", "Beschreibung", "Description"),
    ("pending_reason", "Grund des Wartens", "Pending reason"),
    ("pending_until", "Wartend bis", "Pending until"),
    ("merged_into", "Zusammengeführt in", "Merged into"),
    ("resolution_code", "Lösungscode", "Resolution code"),
    ("resolution_text", "Lösungstext", "Resolution text"),
    ("links", "Verknüpfungen", "Links"),
    ("assets", "Assets", "Assets"),
    ("articles", "Artikel", "Articles"),
    ("service_id", "Service", "Service"),
    ("category_id", "Kategorie", "Category"),
    ("ticket_type", "Ticketart", "Ticket type"),
    ("channel", "Kanal", "Channel"),
    ("requester", "Melder:in", "Requester"),
];

/// Fields whose values are terms of the domain, translated through [`TERMS`].
const TERM_FIELDS: &[&str] = &[
    "status",
    "priority",
    "impact",
    "urgency",
    "pending_reason",
    "ticket_type",
    "link_type",
    "kind",
];

/// `(value, German, English)`: statuses, priorities and levels, pending reasons, ticket types,
/// link types and article kinds.
const TERMS: &[(&str, &str, &str)] = &[
    ("new", "Neu", "New"),
    ("assigned", "Zugewiesen", "Assigned"),
    ("in_progress", "In Bearbeitung", "In progress"),
    ("pending", "Wartend", "Pending"),
    ("resolved", "Gelöst", "Resolved"),
    ("closed", "Geschlossen", "Closed"),
    ("cancelled", "Storniert", "Cancelled"),
    ("merged", "Zusammengeführt", "Merged"),
    ("critical", "Kritisch", "Critical"),
    ("high", "Hoch", "High"),
    ("medium", "Mittel", "Medium"),
    ("low", "Niedrig", "Low"),
    ("very_low", "Sehr niedrig", "Very low"),
    (
        "waiting_for_requester",
        "Warten auf die meldende Person",
        "Waiting for the requester",
    ),
    (
        "waiting_for_third_party",
        "Warten auf Dritte",
        "Waiting for a third party",
    ),
    (
        "waiting_for_change",
        "Warten auf eine Änderung",
        "Waiting for a change",
    ),
    ("incident", "Störung", "Incident"),
    ("service_request", "Serviceanfrage", "Service request"),
    ("problem", "Problem", "Problem"),
    ("change", "Change", "Change"),
    ("relates_to", "verwandt mit", "relates to"),
    ("duplicate_of", "Duplikat von", "duplicate of"),
    ("parent_of", "übergeordnet zu", "parent of"),
    ("child_of", "untergeordnet zu", "child of"),
    ("caused_by", "verursacht durch", "caused by"),
    ("public_reply", "Öffentliche Antwort", "Public reply"),
    ("internal_note", "Interne Notiz", "Internal note"),
    (
        "requester_message",
        "Nachricht der meldenden Person",
        "Message from the requester",
    ),
];

/// `(event type, German, English)`: the headline of events that have a fixed one.
const HEADLINES: &[(&str, &str, &str)] = &[
    ("ticket.opened", "Ticket eröffnet", "Ticket opened"),
    ("ticket.assigned", "Zugewiesen", "Assigned"),
    (
        "ticket.work_started",
        "Bearbeitung begonnen",
        "Work started",
    ),
    (
        "ticket.pending_set",
        "Auf wartend gesetzt",
        "Set to pending",
    ),
    ("ticket.resolved", "Gelöst", "Resolved"),
    ("ticket.reopened", "Wiedereröffnet", "Reopened"),
    ("ticket.closed", "Geschlossen", "Closed"),
    ("ticket.cancelled", "Storniert", "Cancelled"),
    ("ticket.merged", "Zusammengeführt", "Merged"),
    (
        "ticket.article_added",
        "Artikel hinzugefügt",
        "Article added",
    ),
    (
        "ticket.priority_changed",
        "Priorität geändert",
        "Priority changed",
    ),
    (
        "ticket.fields_changed",
        "Zusatzfelder geändert",
        "Fields changed",
    ),
    (
        "ticket.tags_changed",
        "Schlagwörter geändert",
        "Tags changed",
    ),
    ("ticket.linked", "Verknüpfung hinzugefügt", "Link added"),
    ("ticket.unlinked", "Verknüpfung entfernt", "Link removed"),
    ("ticket.asset_linked", "Asset verknüpft", "Asset linked"),
    (
        "ticket.asset_unlinked",
        "Asset-Verknüpfung entfernt",
        "Asset unlinked",
    ),
    (
        "ticket.sla_warning_reached",
        "SLA-Warnschwelle erreicht",
        "SLA warning threshold reached",
    ),
    ("ticket.sla_breached", "SLA verletzt", "SLA breached"),
];

fn pick(language: Language, german: &'static str, english: &'static str) -> &'static str {
    match language {
        Language::German => german,
        Language::English => english,
    }
}

fn lookup(
    table: &[(&str, &'static str, &'static str)],
    key: &str,
    language: Language,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(entry, _, _)| *entry == key)
        .map(|(_, german, english)| pick(language, german, english))
}

/// How values are written for one reader.
#[derive(Debug)]
pub struct Writer<'a> {
    pub language: Language,
    /// Numbers of tickets and names of assets the changes refer to by id.
    pub numbers: &'a HashMap<Uuid, String>,
}

impl Writer<'_> {
    /// The sentence for an event of `event_type` with `changes`.
    pub fn summary(&self, event_type: &str, changes: &[Change]) -> String {
        let mut headline = self.headline(event_type, changes);
        let mut parts = Vec::new();
        for change in changes {
            if consumed_by_headline(event_type, &change.field) {
                continue;
            }
            let to = self.value(&change.field, &change.to);
            if change.field == "status" && to == headline {
                // "Gelöst (vorher: In Bearbeitung)" rather than "Gelöst; Status: Gelöst (…)".
                headline = format!("{headline} ({})", self.before(&change.field, &change.from));
                continue;
            }
            parts.push(self.detail(change));
        }
        if parts.is_empty() {
            headline
        } else {
            format!("{headline}; {}", parts.join("; "))
        }
    }

    fn headline(&self, event_type: &str, changes: &[Change]) -> String {
        let language = self.language;
        let change = |field: &str| changes.iter().find(|change| change.field == field);
        match event_type {
            "ticket.assigned" => match change("assignee") {
                Some(change) => format!(
                    "{} {} ({})",
                    pick(language, "Zugewiesen an", "Assigned to"),
                    self.value("assignee", &change.to),
                    self.before("assignee", &change.from)
                ),
                None => pick(language, "Zugewiesen", "Assigned").to_owned(),
            },
            "ticket.merged" => match change("merged_into") {
                Some(change) => format!(
                    "{} {}",
                    pick(language, "Zusammengeführt in", "Merged into"),
                    self.value("merged_into", &change.to)
                ),
                None => pick(language, "Zusammengeführt", "Merged").to_owned(),
            },
            "ticket.article_added" => match article_kind(changes) {
                Some(kind) => match lookup(TERMS, &kind, language) {
                    Some(term) => format!("{term} {}", pick(language, "hinzugefügt", "added")),
                    None => pick(language, "Artikel hinzugefügt", "Article added").to_owned(),
                },
                None => pick(language, "Artikel hinzugefügt", "Article added").to_owned(),
            },
            "ticket.linked" | "ticket.unlinked" => self.link_headline(event_type, "links", changes),
            "ticket.asset_linked" | "ticket.asset_unlinked" => {
                self.link_headline(event_type, "assets", changes)
            }
            other => lookup(HEADLINES, other, language)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} {other}", pick(language, "Ereignis", "Event"))),
        }
    }

    /// "Verknüpfung hinzugefügt: verursacht durch 2026-000007", "Asset verknüpft: NB-0815": what
    /// was added (`to`) or removed (`from`) in `field`.
    fn link_headline(&self, event_type: &str, field: &str, changes: &[Change]) -> String {
        let base = lookup(HEADLINES, event_type, self.language).unwrap_or_default();
        let added = matches!(event_type, "ticket.linked" | "ticket.asset_linked");
        match changes.iter().find(|change| change.field == field) {
            Some(change) if added => format!("{base}: {}", self.value(field, &change.to)),
            Some(change) => format!("{base}: {}", self.value(field, &change.from)),
            None => base.to_owned(),
        }
    }

    /// "Warteschlange: 2nd-level (vorher: service-desk)"; without "vorher" when there was none.
    fn detail(&self, change: &Change) -> String {
        let label = self.label(&change.field);
        let to = self.value(&change.field, &change.to);
        if change.from.is_null() && change.field != "assignee" {
            format!("{label}: {to}")
        } else {
            format!(
                "{label}: {to} ({})",
                self.before(&change.field, &change.from)
            )
        }
    }

    fn before(&self, field: &str, value: &Value) -> String {
        let word = pick(self.language, "vorher", "before");
        format!("{word}: {}", self.value(field, value))
    }

    fn label(&self, field: &str) -> String {
        if let Some(key) = field.strip_prefix("fields.") {
            let word = pick(self.language, "Zusatzfeld", "Field");
            return format!("{word} {key}");
        }
        lookup(FIELD_LABELS, field, self.language)
            .map(str::to_owned)
            .unwrap_or_else(|| field.to_owned())
    }

    /// A value as the reader reads it: terms translated, ticket ids as numbers, lists joined.
    fn value(&self, field: &str, value: &Value) -> String {
        let language = self.language;
        let text = match value {
            Value::Null if field == "assignee" => pick(language, "niemand", "nobody").to_owned(),
            Value::Null => pick(language, "keine Angabe", "none").to_owned(),
            Value::Bool(true) => pick(language, "ja", "yes").to_owned(),
            Value::Bool(false) => pick(language, "nein", "no").to_owned(),
            Value::Number(number) => number.to_string(),
            Value::String(text) => self.text(field, text),
            Value::Array(items) if items.is_empty() => pick(language, "keine", "none").to_owned(),
            Value::Array(items) => items
                .iter()
                .map(|item| self.value(field, item))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Object(object) => match (object.get("link_type"), object.get("target")) {
                (Some(Value::String(link_type)), Some(target)) => format!(
                    "{} {}",
                    self.text("link_type", link_type),
                    self.value("target", target)
                ),
                _ => value.to_string(),
            },
        };
        shorten(text)
    }

    fn text(&self, field: &str, text: &str) -> String {
        if TERM_FIELDS.contains(&field) {
            if let Some(term) = lookup(TERMS, text, self.language) {
                return term.to_owned();
            }
        }
        if let Ok(id) = text.parse::<Uuid>() {
            if let Some(number) = self.numbers.get(&id) {
                return number.clone();
            }
        }
        if let Ok(at) = text.parse::<DateTime<Utc>>() {
            return at.format("%Y-%m-%d %H:%M UTC").to_string();
        }
        text.to_owned()
    }
}

/// Changes the headline already tells.
fn consumed_by_headline(event_type: &str, field: &str) -> bool {
    matches!(
        (event_type, field),
        ("ticket.opened", _)
            | ("ticket.assigned", "assignee")
            | ("ticket.merged", "merged_into")
            | ("ticket.article_added", "articles")
            | ("ticket.linked" | "ticket.unlinked", "links")
            | ("ticket.asset_linked" | "ticket.asset_unlinked", "assets")
    )
}

/// The article kind an `article_added` entry records (in `to.kind`, or as a plain value).
pub fn article_kind(changes: &[Change]) -> Option<String> {
    changes.iter().find_map(|change| {
        let kinds = ["public_reply", "internal_note", "requester_message"];
        match &change.to {
            Value::Object(object) => object.get("kind")?.as_str().map(str::to_owned),
            Value::String(text) if kinds.contains(&text.as_str()) => Some(text.clone()),
            _ => None,
        }
    })
}

fn shorten(text: String) -> String {
    if text.chars().count() <= VALUE_CHARS_MAX {
        return text;
    }
    let mut short: String = text.chars().take(VALUE_CHARS_MAX - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(field: &str, from: Value, to: Value) -> Change {
        Change {
            field: field.to_owned(),
            from,
            to,
        }
    }

    #[track_caller]
    fn check(language: Language, event_type: &str, changes: &[Change], expected: &str) {
        let numbers = HashMap::from([(Uuid::from_u128(7), "2026-000007".to_owned())]);
        let writer = Writer {
            language,
            numbers: &numbers,
        };
        assert_eq!(writer.summary(event_type, changes), expected);
    }

    #[test]
    fn assignment_names_the_new_and_the_previous_assignee() {
        let changes = [
            change("assignee", Value::Null, json!("anna")),
            change("status", json!("new"), json!("assigned")),
        ];
        check(
            Language::German,
            "ticket.assigned",
            &changes,
            "Zugewiesen an anna (vorher: niemand); Status: Zugewiesen (vorher: Neu)",
        );
        check(
            Language::English,
            "ticket.assigned",
            &changes,
            "Assigned to anna (before: nobody); Status: Assigned (before: New)",
        );
    }

    #[test]
    fn a_status_the_headline_names_is_not_repeated() {
        let changes = [
            change("status", json!("in_progress"), json!("resolved")),
            change("resolution_code", Value::Null, json!("fixed")),
        ];
        check(
            Language::German,
            "ticket.resolved",
            &changes,
            "Gelöst (vorher: In Bearbeitung); Lösungscode: fixed",
        );
    }

    #[test]
    fn priorities_fields_tags_and_merges_read_naturally() {
        check(
            Language::English,
            "ticket.priority_changed",
            &[change("priority", json!("medium"), json!("very_low"))],
            "Priority changed; Priority: Very low (before: Medium)",
        );
        check(
            Language::German,
            "ticket.fields_changed",
            &[change("fields.cost_centre", json!("4711"), Value::Null)],
            "Zusatzfelder geändert; Zusatzfeld cost_centre: keine Angabe (vorher: 4711)",
        );
        check(
            Language::German,
            "ticket.tags_changed",
            &[change("tags", json!([]), json!(["drucker", "new"]))],
            "Schlagwörter geändert; Schlagwörter: drucker, new (vorher: keine)",
        );
        check(
            Language::English,
            "ticket.merged",
            &[change(
                "merged_into",
                Value::Null,
                json!(Uuid::from_u128(7)),
            )],
            "Merged into 2026-000007",
        );
    }

    #[test]
    fn article_entries_name_the_kind() {
        let to = json!({"article_id": 2, "kind": "internal_note"});
        check(
            Language::German,
            "ticket.article_added",
            &[change("articles", Value::Null, to)],
            "Interne Notiz hinzugefügt",
        );
    }

    #[test]
    fn links_name_their_type_and_the_other_ticket() {
        let link = json!({"link_type": "caused_by", "target": Uuid::from_u128(7)});
        check(
            Language::German,
            "ticket.linked",
            &[change("links", Value::Null, link.clone())],
            "Verknüpfung hinzugefügt: verursacht durch 2026-000007",
        );
        check(
            Language::English,
            "ticket.unlinked",
            &[change("links", link, Value::Null)],
            "Link removed: caused by 2026-000007",
        );
    }

    #[test]
    fn asset_entries_name_the_asset() {
        let asset = json!(Uuid::from_u128(7));
        check(
            Language::German,
            "ticket.asset_linked",
            &[change("assets", Value::Null, asset.clone())],
            "Asset verknüpft: 2026-000007",
        );
        check(
            Language::English,
            "ticket.asset_unlinked",
            &[change("assets", asset, Value::Null)],
            "Asset unlinked: 2026-000007",
        );
        let unknown = json!(Uuid::from_u128(8));
        check(
            Language::English,
            "ticket.asset_linked",
            &[change("assets", Value::Null, unknown)],
            "Asset linked: 00000000-0000-0000-0000-000000000008",
        );
    }

    #[test]
    fn unknown_events_and_fields_are_shown_as_they_are() {
        check(
            Language::English,
            "ticket.escalated",
            &[change("sla", Value::Null, json!(true))],
            "Event ticket.escalated; sla: yes",
        );
    }
}
