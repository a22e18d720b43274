//! German-first user-facing messages with English alternatives, chosen by `Accept-Language`.

use axum::http::{header, HeaderMap};

/// The languages we answer in. German is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    German,
    English,
}

impl Language {
    /// The first of `de`/`en` in the caller's `Accept-Language` (ignoring weights, which
    /// clients list in order of preference anyway); German otherwise.
    pub fn from_headers(headers: &HeaderMap) -> Language {
        let Some(value) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
        else {
            return Language::German;
        };
        for range in value.split(',') {
            let tag = range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("de") {
                return Language::German;
            }
            if tag.starts_with("en") {
                return Language::English;
            }
        }
        Language::German
    }

    /// The BCP 47 tag for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::German => "de",
            Language::English => "en",
        }
    }
}

/// `(code, German, English)`; codes not listed fall back to a generic title.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("malformed_json", "Ungültiges JSON", "Malformed JSON"),
    ("invalid_field", "Ungültiges Feld", "Invalid field"),
    (
        "body_too_large",
        "Anfrage zu groß",
        "Request body too large",
    ),
    (
        "unsupported_media_type",
        "Nicht unterstützter Medientyp, erwartet application/json",
        "Unsupported media type, expected application/json",
    ),
    ("invalid_header", "Ungültiger Header", "Invalid header"),
    (
        "unauthenticated",
        "Anmeldung erforderlich",
        "Authentication required",
    ),
    ("missing_right", "Fehlende Berechtigung", "Missing right"),
    ("invalid_name", "Ungültiger Name", "Invalid name"),
    (
        "invalid_definition",
        "Ungültige Konfiguration",
        "Invalid configuration",
    ),
    (
        "unknown_time_zone",
        "Unbekannte Zeitzone",
        "Unknown time zone",
    ),
    (
        "unknown_weekday",
        "Unbekannter Wochentag",
        "Unknown weekday",
    ),
    ("invalid_hours", "Ungültige Servicezeit", "Invalid hours"),
    (
        "inverted_hours",
        "Servicezeit endet vor ihrem Beginn",
        "Hours end before they start",
    ),
    (
        "overlapping_hours",
        "Servicezeiten überschneiden sich",
        "Hours overlap",
    ),
    (
        "never_open",
        "Kalender hat keine Servicezeiten",
        "Calendar is never open",
    ),
    (
        "invalid_closing_day",
        "Ungültiger Schließtag",
        "Invalid closing day",
    ),
    (
        "policy_never_matches",
        "SLA-Regel kann nie greifen",
        "SLA target can never apply",
    ),
    (
        "missing_reference",
        "Verweis auf nicht vorhandene Konfiguration",
        "Reference to missing configuration",
    ),
    (
        "config_not_found",
        "Konfiguration nicht gefunden",
        "Configuration not found",
    ),
    (
        "config_in_use",
        "Konfiguration wird noch verwendet",
        "Configuration still in use",
    ),
    (
        "csrf_token_invalid",
        "CSRF-Token fehlt oder ist ungültig",
        "CSRF token missing or invalid",
    ),
    (
        "asset_exists",
        "Asset existiert bereits",
        "Asset already exists",
    ),
    (
        "asset_disposed",
        "Asset ist entsorgt",
        "Asset is disposed of",
    ),
    (
        "lifecycle_transition_not_allowed",
        "Lebenszyklus-Übergang nicht erlaubt",
        "Lifecycle transition not allowed",
    ),
    (
        "unknown_asset_class",
        "Unbekannte Asset-Klasse",
        "Unknown asset class",
    ),
    (
        "unknown_attribute",
        "Unbekanntes Attribut",
        "Unknown attribute",
    ),
    (
        "attribute_type_mismatch",
        "Attributwert hat den falschen Typ",
        "Attribute value has the wrong type",
    ),
    (
        "attribute_not_an_option",
        "Wert ist keine der erlaubten Optionen",
        "Value is not one of the options",
    ),
    (
        "attribute_required",
        "Pflichtattribut fehlt",
        "Required attribute missing",
    ),
    (
        "relation_to_itself",
        "Beziehung auf sich selbst",
        "Relation to itself",
    ),
    (
        "relation_exists",
        "Beziehung besteht bereits",
        "Relation already exists",
    ),
    (
        "relation_not_found",
        "Beziehung nicht gefunden",
        "Relation not found",
    ),
    (
        "relation_target_not_found",
        "Bezogenes Asset nicht gefunden",
        "Related asset not found",
    ),
    (
        "relation_target_disposed",
        "Bezogenes Asset ist entsorgt",
        "Related asset is disposed of",
    ),
    (
        "unknown_source",
        "Unbekannte Inventarquelle",
        "Unknown inventory source",
    ),
    (
        "invalid_external_id",
        "Ungültige externe ID",
        "Invalid external id",
    ),
    (
        "invalid_source",
        "Ungültiger Name der Inventarquelle",
        "Invalid inventory source name",
    ),
    (
        "import_unreadable",
        "Importdatei nicht lesbar",
        "Import file unreadable",
    ),
    (
        "import_missing_column",
        "Pflichtspalte fehlt in der Importdatei",
        "Required column missing in the import file",
    ),
    (
        "import_too_many_rows",
        "Importdatei hat zu viele Zeilen",
        "Import file has too many rows",
    ),
    (
        "import_in_progress",
        "Import dieser Quelle läuft bereits",
        "An import of this source is running",
    ),
    (
        "ticket_not_found",
        "Ticket nicht gefunden",
        "Ticket not found",
    ),
    ("not_found", "Nicht gefunden", "Not found"),
    (
        "method_not_allowed",
        "Methode nicht erlaubt",
        "Method not allowed",
    ),
    (
        "stale_version",
        "Das Ticket wurde zwischenzeitlich geändert",
        "The ticket was changed meanwhile",
    ),
    (
        "contention",
        "Das Ticket wird gerade zu oft gleichzeitig geändert, bitte erneut versuchen",
        "The ticket is being changed concurrently too often, please retry",
    ),
    (
        "invalid_transition",
        "Statuswechsel nicht erlaubt",
        "Status change not allowed",
    ),
    (
        "reopen_window_expired",
        "Frist zum Wiedereröffnen abgelaufen",
        "Reopen window expired",
    ),
    (
        "already_terminal",
        "Ticket ist bereits abgeschlossen",
        "Ticket is already finished",
    ),
    (
        "unavailable",
        "Dienst vorübergehend nicht verfügbar",
        "Service temporarily unavailable",
    ),
    ("internal", "Interner Fehler", "Internal error"),
    (
        "internal_detail",
        "Ein unerwarteter Fehler ist aufgetreten; es wurde nichts gespeichert.",
        "An unexpected error occurred; nothing was saved.",
    ),
    (
        "already_opened",
        "Ticket existiert bereits",
        "Ticket already exists",
    ),
    (
        "ticket_type_not_supported",
        "Ticketart wird noch nicht unterstützt",
        "Ticket type not supported yet",
    ),
    (
        "cannot_merge_into_itself",
        "Ein Ticket kann nicht mit sich selbst zusammengeführt werden",
        "A ticket cannot be merged into itself",
    ),
    (
        "cannot_link_to_itself",
        "Ein Ticket kann nicht mit sich selbst verknüpft werden",
        "A ticket cannot be linked to itself",
    ),
    (
        "already_linked",
        "Verknüpfung besteht bereits",
        "Link already exists",
    ),
    ("not_linked", "Verknüpfung besteht nicht", "No such link"),
    ("too_many_links", "Zu viele Verknüpfungen", "Too many links"),
    ("too_many_articles", "Zu viele Artikel", "Too many articles"),
    (
        "assignee_required",
        "Zuerst eine Bearbeiter:in zuweisen",
        "Assign someone first",
    ),
    (
        "unknown_field",
        "Unbekanntes Zusatzfeld",
        "Unknown dynamic field",
    ),
    (
        "invalid_field_value",
        "Ungültiger Wert im Zusatzfeld",
        "Invalid dynamic field value",
    ),
    (
        "required_field_missing",
        "Pflichtfeld fehlt",
        "Required field missing",
    ),
    (
        "target_ticket_not_found",
        "Zielticket nicht gefunden",
        "Target ticket not found",
    ),
    (
        "merge_target_finished",
        "Zielticket ist bereits abgeschlossen",
        "Target ticket is already finished",
    ),
    ("asset_not_found", "Asset nicht gefunden", "Asset not found"),
    (
        "asset_already_linked",
        "Asset ist bereits mit dem Ticket verknüpft",
        "Asset already linked to the ticket",
    ),
    (
        "asset_not_linked",
        "Asset ist nicht mit dem Ticket verknüpft",
        "Asset not linked to the ticket",
    ),
    (
        "too_many_assets",
        "Zu viele Assets am Ticket",
        "Too many assets on the ticket",
    ),
    (
        "idempotency_key_reused",
        "Idempotency-Key wurde für eine andere Anfrage verwendet",
        "Idempotency-Key was used for a different request",
    ),
    (
        "timeout",
        "Zeitüberschreitung, bitte erneut versuchen",
        "Timed out, please retry",
    ),
    (
        "unknown_parameter",
        "Unbekannter Abfrageparameter",
        "Unknown query parameter",
    ),
    (
        "invalid_parameter",
        "Ungültiger Abfrageparameter",
        "Invalid query parameter",
    ),
    (
        "not_yet_consistent",
        "Die Änderung ist noch nicht sichtbar, bitte gleich erneut versuchen",
        "The change is not visible yet, please retry shortly",
    ),
    (
        "projection_failed",
        "Eine Lesesicht ist angehalten",
        "A read model has stopped",
    ),
    (
        "live_updates_unavailable",
        "Live-Aktualisierungen sind nicht eingerichtet",
        "Live updates are not configured",
    ),
    (
        "too_many_streams",
        "Zu viele offene Live-Verbindungen",
        "Too many open live update streams",
    ),
    ("title_empty", "Titel fehlt", "Title missing"),
    (
        "title_too_long",
        "Titel zu lang (höchstens 200 Zeichen)",
        "Title too long (200 characters at most)",
    ),
    (
        "description_too_long",
        "Beschreibung zu lang (höchstens 64 KiB)",
        "Description too long (64 KiB at most)",
    ),
    ("text_empty", "Text fehlt", "Text missing"),
    (
        "text_too_long",
        "Text zu lang (höchstens 64 KiB)",
        "Text too long (64 KiB at most)",
    ),
    (
        "control_character",
        "Unzulässiges Steuerzeichen",
        "Control character not allowed",
    ),
    (
        "ticket_number_invalid",
        "Ungültige Ticketnummer",
        "Invalid ticket number",
    ),
    (
        "requester_name_empty",
        "Name der meldenden Person fehlt",
        "Requester name missing",
    ),
    (
        "requester_name_too_long",
        "Name der meldenden Person zu lang",
        "Requester name too long",
    ),
    (
        "email_invalid",
        "Ungültige E-Mail-Adresse",
        "Invalid e-mail address",
    ),
    (
        "phone_invalid",
        "Ungültige Telefonnummer",
        "Invalid phone number",
    ),
    ("identifier_empty", "Kennung fehlt", "Identifier missing"),
    (
        "identifier_too_long",
        "Kennung zu lang",
        "Identifier too long",
    ),
    ("reason_empty", "Begründung fehlt", "Reason missing"),
    ("reason_too_long", "Begründung zu lang", "Reason too long"),
    (
        "resolution_code_empty",
        "Lösungscode fehlt",
        "Resolution code missing",
    ),
    (
        "resolution_code_too_long",
        "Lösungscode zu lang",
        "Resolution code too long",
    ),
    ("tag_empty", "Leeres Schlagwort", "Empty tag"),
    ("tag_too_long", "Schlagwort zu lang", "Tag too long"),
    ("too_many_tags", "Zu viele Schlagwörter", "Too many tags"),
    (
        "attachment_name_empty",
        "Name des Anhangs fehlt",
        "Attachment name missing",
    ),
    (
        "attachment_name_too_long",
        "Name des Anhangs zu lang",
        "Attachment name too long",
    ),
    (
        "sha256_invalid",
        "Ungültige SHA-256-Prüfsumme",
        "Invalid SHA-256 checksum",
    ),
    (
        "media_type_invalid",
        "Ungültiger Medientyp",
        "Invalid media type",
    ),
    (
        "too_many_attachments",
        "Zu viele Anhänge",
        "Too many attachments",
    ),
    (
        "user_exists",
        "Benutzer existiert bereits",
        "User already exists",
    ),
    (
        "user_not_found",
        "Benutzer nicht gefunden",
        "User not found",
    ),
    ("user_disabled", "Benutzer ist gesperrt", "User is disabled"),
    (
        "no_roles",
        "Mindestens eine Rolle erforderlich",
        "At least one role required",
    ),
    (
        "invalid_user_name",
        "Ungültiger Benutzername",
        "Invalid user name",
    ),
    ("unknown_role", "Unbekannte Rolle", "Unknown role"),
    (
        "invalid_display_name",
        "Ungültiger Anzeigename",
        "Invalid display name",
    ),
    (
        "invalid_org_unit",
        "Ungültige Organisationseinheit",
        "Invalid organisational unit",
    ),
    (
        "invalid_password",
        "Passwort erfüllt die Regeln nicht",
        "Password does not meet the rules",
    ),
    (
        "invalid_credentials",
        "Benutzername oder Passwort falsch",
        "Wrong user name or password",
    ),
    (
        "too_many_attempts",
        "Zu viele fehlgeschlagene Anmeldungen",
        "Too many failed logins",
    ),
    (
        "service_not_found",
        "Service nicht im Katalog",
        "Service not in the catalog",
    ),
    (
        "field_not_visible",
        "Feld wird bei diesen Angaben nicht abgefragt",
        "Field is not asked for with these answers",
    ),
    (
        "business_rule",
        "Geschäftsregel verletzt",
        "Business rule violated",
    ),
];

/// The message for `code` in `language`.
pub fn message(language: Language, code: &str) -> &'static str {
    let entry = MESSAGES.iter().find(|(key, _, _)| *key == code);
    let (_, german, english) = entry.copied().unwrap_or_else(|| {
        *MESSAGES
            .iter()
            .find(|(key, _, _)| *key == "business_rule")
            .expect("fallback exists")
    });
    match language {
        Language::German => german,
        Language::English => english,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn language(accept: &str) -> Language {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, accept.parse().unwrap());
        Language::from_headers(&headers)
    }

    #[test]
    fn german_is_the_default_and_english_is_chosen_when_asked_for_first() {
        assert_eq!(Language::from_headers(&HeaderMap::new()), Language::German);
        assert_eq!(language("en-GB,en;q=0.9"), Language::English);
        assert_eq!(language("de-DE,en;q=0.5"), Language::German);
        assert_eq!(language("fr, en;q=0.5"), Language::English);
    }

    /// Every code the domain and the API can answer with (keep in step with `TicketError::code`,
    /// `ValueError::code` and `ApiError::code`).
    const CODES: &[&str] = &[
        "malformed_json",
        "invalid_field",
        "body_too_large",
        "unsupported_media_type",
        "invalid_header",
        "unauthenticated",
        "missing_right",
        "ticket_not_found",
        "not_found",
        "method_not_allowed",
        "stale_version",
        "contention",
        "unavailable",
        "internal",
        "invalid_transition",
        "reopen_window_expired",
        "already_terminal",
        "already_opened",
        "ticket_type_not_supported",
        "cannot_merge_into_itself",
        "cannot_link_to_itself",
        "already_linked",
        "not_linked",
        "too_many_links",
        "too_many_articles",
        "assignee_required",
        "unknown_field",
        "invalid_field_value",
        "required_field_missing",
        "target_ticket_not_found",
        "merge_target_finished",
        "asset_not_found",
        "asset_already_linked",
        "asset_not_linked",
        "too_many_assets",
        "idempotency_key_reused",
        "timeout",
        "unknown_parameter",
        "invalid_parameter",
        "not_yet_consistent",
        "projection_failed",
        "live_updates_unavailable",
        "too_many_streams",
        "title_empty",
        "title_too_long",
        "description_too_long",
        "text_empty",
        "text_too_long",
        "control_character",
        "ticket_number_invalid",
        "requester_name_empty",
        "requester_name_too_long",
        "email_invalid",
        "phone_invalid",
        "identifier_empty",
        "identifier_too_long",
        "reason_empty",
        "reason_too_long",
        "resolution_code_empty",
        "resolution_code_too_long",
        "tag_empty",
        "tag_too_long",
        "too_many_tags",
        "attachment_name_empty",
        "attachment_name_too_long",
        "sha256_invalid",
        "media_type_invalid",
        "too_many_attachments",
        "invalid_name",
        "invalid_definition",
        "unknown_time_zone",
        "unknown_weekday",
        "invalid_hours",
        "inverted_hours",
        "overlapping_hours",
        "never_open",
        "invalid_closing_day",
        "policy_never_matches",
        "missing_reference",
        "config_not_found",
        "config_in_use",
        "csrf_token_invalid",
        "asset_exists",
        "asset_disposed",
        "lifecycle_transition_not_allowed",
        "unknown_asset_class",
        "unknown_attribute",
        "attribute_type_mismatch",
        "attribute_not_an_option",
        "attribute_required",
        "relation_to_itself",
        "relation_exists",
        "relation_not_found",
        "relation_target_not_found",
        "relation_target_disposed",
        "unknown_source",
        "invalid_external_id",
        "invalid_source",
        "import_unreadable",
        "import_missing_column",
        "import_too_many_rows",
        "import_in_progress",
        "user_exists",
        "user_not_found",
        "user_disabled",
        "no_roles",
        "invalid_user_name",
        "unknown_role",
        "invalid_display_name",
        "invalid_org_unit",
        "invalid_password",
        "invalid_credentials",
        "too_many_attempts",
        "service_not_found",
        "field_not_visible",
    ];

    #[test]
    fn every_known_code_has_its_own_title() {
        let fallback = message(Language::German, "business_rule");
        for code in CODES {
            assert_ne!(
                message(Language::German, code),
                fallback,
                "{code} lacks a title"
            );
        }
    }

    #[test]
    fn every_code_has_both_languages() {
        for (code, german, english) in MESSAGES {
            assert!(!german.is_empty() && !english.is_empty(), "{code}");
        }
        assert_eq!(
            message(Language::English, "no_such_code"),
            "Business rule violated"
        );
    }
}
