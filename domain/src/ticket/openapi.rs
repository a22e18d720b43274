//! OpenAPI schemas of the value types that travel as plain strings (feature `openapi`).

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::values::{
    ArticleBody, Description, TicketNumber, Title, ARTICLE_BODY_BYTES_MAX, DESCRIPTION_BYTES_MAX,
    TITLE_CHARS_MAX,
};

/// A string schema with optional length limits, pattern and example.
fn string_schema(
    description: &str,
    length: (Option<usize>, Option<usize>),
    pattern: Option<&str>,
    example: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(length.0)
        .max_length(length.1)
        .pattern(pattern)
        .examples([example])
        .into()
}

impl PartialSchema for TicketNumber {
    fn schema() -> RefOr<Schema> {
        let description = "Ticket number: year and a sequence of at least six digits.";
        string_schema(
            description,
            (None, None),
            Some(r"^\d{4}-\d{6,}$"),
            "2026-000123",
        )
    }
}

impl ToSchema for TicketNumber {}

impl PartialSchema for Title {
    fn schema() -> RefOr<Schema> {
        let description = "Ticket title: one line, 1 to 200 characters after trimming.";
        string_schema(
            description,
            (Some(1), Some(TITLE_CHARS_MAX)),
            None,
            "Drucker im 2. OG druckt nicht",
        )
    }
}

impl ToSchema for Title {}

impl PartialSchema for Description {
    fn schema() -> RefOr<Schema> {
        let description = "Free text of at most 64 KiB (bytes); may be empty.";
        string_schema(
            description,
            (None, Some(DESCRIPTION_BYTES_MAX)),
            None,
            "Seit heute früh …",
        )
    }
}

impl ToSchema for Description {}

impl PartialSchema for ArticleBody {
    fn schema() -> RefOr<Schema> {
        let description = "Text of 1 byte to 64 KiB, not only white space.";
        string_schema(
            description,
            (Some(1), Some(ARTICLE_BODY_BYTES_MAX)),
            None,
            "Bitte starten Sie neu.",
        )
    }
}

impl ToSchema for ArticleBody {}
