//! Full-text search text, shared by the projection (documents) and the query service (queries):
//! PostgreSQL's `german` configuration stems; we fold umlauts and ß first, so "Drucker" finds
//! "Drücker", "Strasse" finds "Straße", and a query typed without umlauts still matches.

/// The text search configuration documents and queries use.
pub const CONFIG: &str = "german";
/// Longest query accepted, in characters.
pub const QUERY_CHARS_MAX: usize = 200;
/// Most words of a query that take part in the search.
pub const QUERY_WORDS_MAX: usize = 8;

/// `text` lower-cased with ä→a, ö→o, ü→u, ß→ss (and their capitals).
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            'ä' | 'Ä' => folded.push('a'),
            'ö' | 'Ö' => folded.push('o'),
            'ü' | 'Ü' => folded.push('u'),
            'ß' | 'ẞ' => folded.push_str("ss"),
            other => folded.extend(other.to_lowercase()),
        }
    }
    folded
}

/// A `to_tsquery` text for what a user typed: its words (letters and digits; a ticket number
/// such as `2026-000123` stays one word), folded, each as a prefix (`word:*`), all required.
/// `None` when nothing searchable is left. The result is passed as a bound parameter; it only
/// ever contains word characters, `-`, `:*` and ` & `, so it cannot be malformed tsquery.
pub fn tsquery(input: &str) -> Option<String> {
    let folded = fold(input);
    let words: Vec<String> = folded
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .map(|word| word.trim_matches('-'))
        .filter(|word| !word.is_empty())
        .take(QUERY_WORDS_MAX)
        .map(|word| {
            // Inside a word, `-` joins parts that the parser splits again; quote-free form.
            let cleaned: String = word
                .chars()
                .map(|c| if c == '-' { ' ' } else { c })
                .collect();
            let parts: Vec<String> = cleaned
                .split_whitespace()
                .map(|part| format!("{part}:*"))
                .collect();
            parts.join(" <-> ")
        })
        .filter(|word| !word.is_empty())
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" & "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_replaces_umlauts_and_sharp_s() {
        assert_eq!(fold("Drücker Straße ÖL Äpfel"), "drucker strasse ol apfel");
    }

    #[test]
    fn tsquery_makes_required_prefixes() {
        assert_eq!(
            tsquery("Drucker  kaputt!").as_deref(),
            Some("drucker:* & kaputt:*")
        );
        assert_eq!(
            tsquery("2026-000123").as_deref(),
            Some("2026:* <-> 000123:*")
        );
        assert_eq!(tsquery("&|!:*()'").as_deref(), None);
        assert_eq!(tsquery("Grüße").as_deref(), Some("grusse:*"));
    }

    #[test]
    fn tsquery_bounds_the_words() {
        let many = "a ".repeat(50);
        assert_eq!(
            tsquery(&many).unwrap().matches(":*").count(),
            QUERY_WORDS_MAX
        );
    }
}
