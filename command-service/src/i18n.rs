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
