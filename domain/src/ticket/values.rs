//! Value types of the ticket aggregate that parse once at the edge: ids, numbers, texts,
//! requester, attachments and the small enums used on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ValueError;

/// Longest title in characters (after trimming).
pub const TITLE_CHARS_MAX: usize = 200;
/// Longest description in bytes (64 KiB).
pub const DESCRIPTION_BYTES_MAX: usize = 65_536;
/// Longest article body (and resolution text) in bytes (64 KiB).
pub const ARTICLE_BODY_BYTES_MAX: usize = 65_536;
/// Longest requester name in characters.
pub const REQUESTER_NAME_CHARS_MAX: usize = 200;
/// Longest e-mail address in characters (RFC 5321 path limit).
pub const EMAIL_CHARS_MAX: usize = 254;
/// Longest phone number in characters.
pub const PHONE_CHARS_MAX: usize = 50;
/// Longest identifier (user, queue, service, category, assignee) in characters.
pub const IDENTIFIER_CHARS_MAX: usize = 200;
/// Longest attachment file name in characters.
pub const ATTACHMENT_NAME_CHARS_MAX: usize = 255;
/// Longest attachment media type in characters.
pub const MEDIA_TYPE_CHARS_MAX: usize = 255;
/// Most attachments on one article.
pub const ATTACHMENTS_PER_ARTICLE_MAX: usize = 20;

/// Identity of a ticket; the stream id of its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, format = Uuid)
)]
pub struct TicketId(Uuid);

impl TicketId {
    /// Wraps an already generated UUID (the caller owns randomness).
    pub const fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Human-readable ticket number, unique and increasing per year: `2026-000123`.
///
/// The sequence is printed with at least six digits and grows beyond that when needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketNumber {
    year: i32,
    sequence: u32,
}

impl TicketNumber {
    /// Builds a number from its year and the sequence within that year.
    ///
    /// # Panics
    /// If `year` is outside `0..=9999`: such a number could not be printed as four digits.
    pub fn new(year: i32, sequence: u32) -> Self {
        assert!(
            (0..=9999).contains(&year),
            "ticket number year out of range: {year}"
        );
        Self { year, sequence }
    }

    /// The year the number belongs to.
    pub const fn year(&self) -> i32 {
        self.year
    }

    /// The sequence within the year.
    pub const fn sequence(&self) -> u32 {
        self.sequence
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:06}", self.year, self.sequence)
    }
}

impl FromStr for TicketNumber {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (year, sequence) = text
            .split_once('-')
            .ok_or(ValueError::TicketNumberInvalid)?;
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if year.len() != 4 || sequence.len() < 6 || !all_digits(year) || !all_digits(sequence) {
            return Err(ValueError::TicketNumberInvalid);
        }
        let year = year.parse().map_err(|_| ValueError::TicketNumberInvalid)?;
        let sequence = sequence
            .parse()
            .map_err(|_| ValueError::TicketNumberInvalid)?;
        Ok(Self { year, sequence })
    }
}

impl TryFrom<String> for TicketNumber {
    type Error = ValueError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<TicketNumber> for String {
    fn from(number: TicketNumber) -> Self {
        number.to_string()
    }
}

/// True when the text contains a control character (line breaks included).
pub(crate) fn has_control_character(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Checks a one-line text: not blank, at most `max` characters, no control characters.
pub(crate) fn check_line(
    text: &str,
    max: usize,
    empty: ValueError,
    too_long: ValueError,
) -> Result<(), ValueError> {
    if text.trim().is_empty() {
        return Err(empty);
    }
    if text.chars().count() > max {
        return Err(too_long);
    }
    if has_control_character(text) {
        return Err(ValueError::ControlCharacter);
    }
    Ok(())
}

/// Checks an identifier such as a user name, queue key or service id.
pub(crate) fn check_identifier(text: &str) -> Result<(), ValueError> {
    check_line(
        text,
        IDENTIFIER_CHARS_MAX,
        ValueError::IdentifierEmpty,
        ValueError::IdentifierTooLong {
            max: IDENTIFIER_CHARS_MAX,
        },
    )
}

/// Ticket title: 1 to 200 characters after trimming, one line. Stored trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Title(String);

impl Title {
    /// Parses a title, trimming surrounding white space.
    pub fn parse(text: impl Into<String>) -> Result<Self, ValueError> {
        let text: String = text.into();
        let trimmed = text.trim();
        check_line(
            trimmed,
            TITLE_CHARS_MAX,
            ValueError::TitleEmpty,
            ValueError::TitleTooLong {
                max: TITLE_CHARS_MAX,
            },
        )?;
        Ok(Self(trimmed.to_owned()))
    }

    /// The title text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Ticket description: free text of at most 64 KiB; may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// Parses a description; only its length is limited.
    pub fn parse(text: impl Into<String>) -> Result<Self, ValueError> {
        let text: String = text.into();
        if text.len() > DESCRIPTION_BYTES_MAX {
            return Err(ValueError::DescriptionTooLong {
                max: DESCRIPTION_BYTES_MAX,
            });
        }
        Ok(Self(text))
    }

    /// The description text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Body of an article (reply, note, requester message) or of a resolution: 1 byte to 64 KiB,
/// not only white space.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArticleBody(String);

impl ArticleBody {
    /// Parses an article body.
    pub fn parse(text: impl Into<String>) -> Result<Self, ValueError> {
        let text: String = text.into();
        if text.trim().is_empty() {
            return Err(ValueError::ArticleBodyEmpty);
        }
        if text.len() > ARTICLE_BODY_BYTES_MAX {
            return Err(ValueError::ArticleBodyTooLong {
                max: ARTICLE_BODY_BYTES_MAX,
            });
        }
        Ok(Self(text))
    }

    /// The body text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_newtype_conversions!(Title, Description, ArticleBody);

/// Kind of ticket. Problem and change exist on the wire but cannot be opened yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TicketType {
    /// Something is broken (Störung).
    Incident,
    /// Someone asks for a service (Serviceanfrage).
    ServiceRequest,
    /// The cause behind incidents; not supported yet.
    Problem,
    /// A planned change; not supported yet.
    Change,
}

/// Where a ticket or article came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    /// The self-service portal.
    Portal,
    /// An e-mail.
    Email,
    /// A phone call.
    Phone,
    /// The agent user interface.
    AgentUi,
    /// The HTTP API directly.
    Api,
    /// A bulk import.
    Import,
    /// An automation rule.
    Rule,
}

impl Channel {
    /// The channel a ticket gets when the request names none.
    pub const fn api() -> Self {
        Self::Api
    }
}

/// Kind of article on a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ArticleKind {
    /// A reply the requester sees.
    PublicReply,
    /// A note only agents see.
    InternalNote,
    /// A message from the requester.
    RequesterMessage,
}

/// Why a ticket waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PendingReason {
    /// Waiting for an answer from the requester.
    WaitingForRequester,
    /// Waiting for a supplier or another third party.
    WaitingForThirdParty,
    /// Waiting for a change to be carried out.
    WaitingForChange,
}

/// How one ticket relates to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LinkType {
    /// Loosely related.
    RelatesTo,
    /// This ticket duplicates the target.
    DuplicateOf,
    /// This ticket is the parent of the target.
    ParentOf,
    /// This ticket is a child of the target.
    ChildOf,
    /// This ticket was caused by the target.
    CausedBy,
}

/// The person a ticket is for. Name, e-mail and phone are personal data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Requester {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number: digits, spaces and `+ - / ( ) .`.
    #[serde(default)]
    pub phone: Option<String>,
    /// The requester's user id, when known.
    #[serde(default)]
    pub user_id: Option<String>,
}

impl Requester {
    /// Checks every part; the error names the field below `requester`.
    pub fn validate(&self) -> Result<(), (&'static str, ValueError)> {
        let name_error = ValueError::RequesterNameTooLong {
            max: REQUESTER_NAME_CHARS_MAX,
        };
        check_line(
            &self.name,
            REQUESTER_NAME_CHARS_MAX,
            ValueError::RequesterNameEmpty,
            name_error,
        )
        .map_err(|error| ("requester.name", error))?;
        if let Some(email) = &self.email {
            check_email(email).map_err(|error| ("requester.email", error))?;
        }
        if let Some(phone) = &self.phone {
            check_phone(phone).map_err(|error| ("requester.phone", error))?;
        }
        if let Some(user_id) = &self.user_id {
            check_identifier(user_id).map_err(|error| ("requester.user_id", error))?;
        }
        Ok(())
    }
}

/// A plausible address: one `@` with text on both sides, no white space, not too long.
pub(crate) fn check_email(email: &str) -> Result<(), ValueError> {
    let Some((local, domain)) = email.split_once('@') else {
        return Err(ValueError::EmailInvalid);
    };
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.chars().count() <= EMAIL_CHARS_MAX
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(()).ok_or(ValueError::EmailInvalid)
}

/// A phone number with at least one digit and only the usual punctuation.
fn check_phone(phone: &str) -> Result<(), ValueError> {
    let allowed = |c: char| c.is_ascii_digit() || " +-/().".contains(c);
    let plausible = phone.chars().any(|c| c.is_ascii_digit())
        && phone.chars().all(allowed)
        && phone.chars().count() <= PHONE_CHARS_MAX;
    plausible.then_some(()).ok_or(ValueError::PhoneInvalid)
}

/// Metadata of a file attached to an article; the content is stored elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// File name, 1 to 255 characters.
    pub name: String,
    /// Size of the content in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the content: 64 lowercase hexadecimal digits.
    pub sha256: String,
    /// Media type such as `application/pdf`.
    pub media_type: String,
}

impl Attachment {
    /// Checks every part; the error names the field below the attachment.
    pub fn validate(&self) -> Result<(), (&'static str, ValueError)> {
        let name_error = ValueError::AttachmentNameTooLong {
            max: ATTACHMENT_NAME_CHARS_MAX,
        };
        check_line(
            &self.name,
            ATTACHMENT_NAME_CHARS_MAX,
            ValueError::AttachmentNameEmpty,
            name_error,
        )
        .map_err(|error| ("name", error))?;
        let is_lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if self.sha256.len() != 64 || !self.sha256.chars().all(is_lower_hex) {
            return Err(("sha256", ValueError::Sha256Invalid));
        }
        check_media_type(&self.media_type).map_err(|error| ("media_type", error))
    }
}

/// A media type `type/subtype` (parameters allowed) without white space around the slash.
fn check_media_type(media_type: &str) -> Result<(), ValueError> {
    let Some((kind, rest)) = media_type.split_once('/') else {
        return Err(ValueError::MediaTypeInvalid);
    };
    let token = |part: &str| !part.is_empty() && !part.chars().any(|c| c.is_whitespace());
    let subtype = rest.split(';').next().unwrap_or_default();
    let plausible = token(kind)
        && token(subtype)
        && media_type.chars().count() <= MEDIA_TYPE_CHARS_MAX
        && !has_control_character(media_type);
    plausible.then_some(()).ok_or(ValueError::MediaTypeInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_number_prints_year_and_six_digits() {
        assert_eq!(TicketNumber::new(2026, 123).to_string(), "2026-000123");
        assert_eq!(
            TicketNumber::new(2026, 1_234_567).to_string(),
            "2026-1234567"
        );
    }

    #[test]
    fn ticket_number_parses_what_it_prints() {
        for number in [
            TicketNumber::new(2026, 0),
            TicketNumber::new(1999, 4_000_000_000),
        ] {
            assert_eq!(number.to_string().parse::<TicketNumber>(), Ok(number));
        }
    }

    #[test]
    fn ticket_number_rejects_malformed_text() {
        for text in [
            "",
            "2026",
            "2026-12345",
            "26-000123",
            "2026-00012a",
            "+026-000123",
            "2026-+00123",
        ] {
            assert_eq!(
                text.parse::<TicketNumber>(),
                Err(ValueError::TicketNumberInvalid),
                "{text}"
            );
        }
        assert!("2026-99999999999".parse::<TicketNumber>().is_err());
    }

    #[test]
    fn ticket_number_serializes_as_its_text() {
        let number = TicketNumber::new(2026, 42);
        assert_eq!(serde_json::to_string(&number).unwrap(), "\"2026-000042\"");
        assert_eq!(
            serde_json::from_str::<TicketNumber>("\"2026-000042\"").unwrap(),
            number
        );
        assert!(serde_json::from_str::<TicketNumber>("\"2026-42\"").is_err());
    }

    #[test]
    fn title_is_trimmed_and_limited_to_200_characters() {
        assert_eq!(Title::parse("  Drucker  ").unwrap().as_str(), "Drucker");
        assert_eq!(Title::parse("   "), Err(ValueError::TitleEmpty));
        assert!(Title::parse("ä".repeat(200)).is_ok());
        assert_eq!(
            Title::parse("ä".repeat(201)),
            Err(ValueError::TitleTooLong { max: 200 })
        );
        assert_eq!(Title::parse("a\nb"), Err(ValueError::ControlCharacter));
        assert!(serde_json::from_str::<Title>("\"\"").is_err());
    }

    #[test]
    fn description_may_be_empty_but_not_over_64_kib() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("x".repeat(65_536)).is_ok());
        let too_long = Description::parse("x".repeat(65_537));
        assert_eq!(
            too_long,
            Err(ValueError::DescriptionTooLong { max: 65_536 })
        );
    }

    #[test]
    fn article_body_needs_text_and_at_most_64_kib() {
        assert_eq!(ArticleBody::parse(" \n"), Err(ValueError::ArticleBodyEmpty));
        assert!(ArticleBody::parse("x".repeat(65_536)).is_ok());
        let too_long = ArticleBody::parse("x".repeat(65_537));
        assert_eq!(
            too_long,
            Err(ValueError::ArticleBodyTooLong { max: 65_536 })
        );
    }

    #[test]
    fn requester_errors_name_the_field() {
        let mut requester = Requester {
            name: "Erika Mustermann".into(),
            email: Some("erika@example.org".into()),
            phone: Some("+49 (0)30 1234-56".into()),
            user_id: None,
        };
        assert_eq!(requester.validate(), Ok(()));
        requester.email = Some("erika.example.org".into());
        assert_eq!(
            requester.validate(),
            Err(("requester.email", ValueError::EmailInvalid))
        );
        requester.name = " ".into();
        assert_eq!(
            requester.validate(),
            Err(("requester.name", ValueError::RequesterNameEmpty))
        );
    }

    #[test]
    fn attachment_checks_hash_and_media_type() {
        let mut attachment = Attachment {
            name: "screenshot.png".into(),
            size_bytes: 1024,
            sha256: "ab".repeat(32),
            media_type: "image/png".into(),
        };
        assert_eq!(attachment.validate(), Ok(()));
        attachment.sha256 = "AB".repeat(32);
        assert_eq!(
            attachment.validate(),
            Err(("sha256", ValueError::Sha256Invalid))
        );
        attachment.sha256 = "ab".repeat(32);
        attachment.media_type = "png".into();
        assert_eq!(
            attachment.validate(),
            Err(("media_type", ValueError::MediaTypeInvalid))
        );
    }
}
