//! Errors of the ticket aggregate: each variant names the rule or the value that was broken.

use thiserror::Error;

use super::lifecycle::Status;

/// A value that does not have the required form. Says what is wrong, not where; the
/// caller adds the field (see [`TicketError::Invalid`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The title is empty or only white space.
    #[error("the title is empty")]
    TitleEmpty,
    /// The title is too long.
    #[error("the title is longer than {max} characters")]
    TitleTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// The description is too long.
    #[error("the description is longer than {max} bytes")]
    DescriptionTooLong {
        /// Most bytes allowed.
        max: usize,
    },
    /// An article body or resolution text is empty or only white space.
    #[error("the text is empty")]
    ArticleBodyEmpty,
    /// An article body or resolution text is too long.
    #[error("the text is longer than {max} bytes")]
    ArticleBodyTooLong {
        /// Most bytes allowed.
        max: usize,
    },
    /// A one-line text contains a line break or another control character.
    #[error("the text contains a control character")]
    ControlCharacter,
    /// A ticket number is not of the form `2026-000123`.
    #[error("a ticket number looks like 2026-000123")]
    TicketNumberInvalid,
    /// The requester's name is empty.
    #[error("the requester's name is empty")]
    RequesterNameEmpty,
    /// The requester's name is too long.
    #[error("the requester's name is longer than {max} characters")]
    RequesterNameTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// Not a plausible e-mail address.
    #[error("not a valid e-mail address")]
    EmailInvalid,
    /// Not a plausible phone number.
    #[error("not a valid phone number")]
    PhoneInvalid,
    /// An identifier (user, queue, service, category) is empty.
    #[error("the identifier is empty")]
    IdentifierEmpty,
    /// An identifier is too long.
    #[error("the identifier is longer than {max} characters")]
    IdentifierTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// A reason (for cancelling or reopening) is empty.
    #[error("the reason is empty")]
    ReasonEmpty,
    /// A reason is too long.
    #[error("the reason is longer than {max} characters")]
    ReasonTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// The resolution code is empty.
    #[error("the resolution code is empty")]
    ResolutionCodeEmpty,
    /// The resolution code is too long.
    #[error("the resolution code is longer than {max} characters")]
    ResolutionCodeTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// A tag is empty.
    #[error("the tag is empty")]
    TagEmpty,
    /// A tag is too long.
    #[error("the tag is longer than {max} characters")]
    TagTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// More distinct tags than allowed.
    #[error("more than {max} tags")]
    TooManyTags {
        /// Most tags allowed.
        max: usize,
    },
    /// An attachment's name is empty.
    #[error("the attachment name is empty")]
    AttachmentNameEmpty,
    /// An attachment's name is too long.
    #[error("the attachment name is longer than {max} characters")]
    AttachmentNameTooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// Not 64 lowercase hexadecimal digits.
    #[error("a SHA-256 is 64 lowercase hexadecimal digits")]
    Sha256Invalid,
    /// Not a media type such as `application/pdf`.
    #[error("not a media type such as application/pdf")]
    MediaTypeInvalid,
    /// More attachments than allowed on one article.
    #[error("more than {max} attachments")]
    TooManyAttachments {
        /// Most attachments allowed.
        max: usize,
    },
}

impl ValueError {
    /// Stable snake_case name of the broken rule.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TitleEmpty => "title_empty",
            Self::TitleTooLong { .. } => "title_too_long",
            Self::DescriptionTooLong { .. } => "description_too_long",
            Self::ArticleBodyEmpty => "text_empty",
            Self::ArticleBodyTooLong { .. } => "text_too_long",
            Self::ControlCharacter => "control_character",
            Self::TicketNumberInvalid => "ticket_number_invalid",
            Self::RequesterNameEmpty => "requester_name_empty",
            Self::RequesterNameTooLong { .. } => "requester_name_too_long",
            Self::EmailInvalid => "email_invalid",
            Self::PhoneInvalid => "phone_invalid",
            Self::IdentifierEmpty => "identifier_empty",
            Self::IdentifierTooLong { .. } => "identifier_too_long",
            Self::ReasonEmpty => "reason_empty",
            Self::ReasonTooLong { .. } => "reason_too_long",
            Self::ResolutionCodeEmpty => "resolution_code_empty",
            Self::ResolutionCodeTooLong { .. } => "resolution_code_too_long",
            Self::TagEmpty => "tag_empty",
            Self::TagTooLong { .. } => "tag_too_long",
            Self::TooManyTags { .. } => "too_many_tags",
            Self::AttachmentNameEmpty => "attachment_name_empty",
            Self::AttachmentNameTooLong { .. } => "attachment_name_too_long",
            Self::Sha256Invalid => "sha256_invalid",
            Self::MediaTypeInvalid => "media_type_invalid",
            Self::TooManyAttachments { .. } => "too_many_attachments",
        }
    }
}

/// Why a dynamic field's value does not fit its definition.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FieldValueError {
    /// The kind needs a JSON string.
    #[error("expected a string")]
    ExpectedString,
    /// The kind needs a JSON integer.
    #[error("expected an integer")]
    ExpectedInteger,
    /// The kind needs true or false.
    #[error("expected true or false")]
    ExpectedBoolean,
    /// The kind needs a JSON array.
    #[error("expected an array")]
    ExpectedArray,
    /// The text is too long.
    #[error("longer than {max} characters")]
    TooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// Not a decimal such as `"12.50"`.
    #[error("expected a decimal such as \"12.50\"")]
    InvalidDecimal,
    /// Not a date `YYYY-MM-DD`.
    #[error("expected a date YYYY-MM-DD")]
    InvalidDate,
    /// Not an RFC 3339 date-time.
    #[error("expected an RFC 3339 date-time")]
    InvalidDateTime,
    /// Not one of the options.
    #[error("{option:?} is not one of the options")]
    UnknownOption {
        /// The offending value.
        option: String,
    },
    /// An option chosen twice.
    #[error("{option:?} is chosen twice")]
    DuplicateOption {
        /// The repeated option.
        option: String,
    },
    /// A user or asset reference is empty.
    #[error("the reference is empty")]
    EmptyReference,
}

/// A command the ticket refuses, naming the broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TicketError {
    /// The ticket does not exist: it was never opened.
    #[error("the ticket has not been opened")]
    NotOpened,
    /// The ticket exists already.
    #[error("the ticket has already been opened")]
    AlreadyOpened,
    /// Tickets of this type cannot be opened yet (problem, change).
    #[error("tickets of this type are not supported yet")]
    TicketTypeNotSupported,
    /// The lifecycle does not allow this command in this status.
    #[error("{command} is not allowed when the ticket is {from:?}")]
    InvalidTransition {
        /// Name of the command.
        command: &'static str,
        /// Status the ticket is in.
        from: Status,
    },
    /// The ticket was resolved longer ago than the policy allows for reopening.
    #[error("the reopen window has expired")]
    ReopenWindowExpired,
    /// The ticket is closed, cancelled or merged; nothing changes it any more.
    #[error("the ticket is {status:?} and cannot change any more")]
    AlreadyTerminal {
        /// The terminal status.
        status: Status,
    },
    /// A ticket cannot be merged into itself.
    #[error("a ticket cannot be merged into itself")]
    CannotMergeIntoItself,
    /// A ticket cannot be linked to itself.
    #[error("a ticket cannot be linked to itself")]
    CannotLinkToItself,
    /// This link exists already.
    #[error("the tickets are already linked this way")]
    AlreadyLinked,
    /// There is no such link to remove.
    #[error("the tickets are not linked this way")]
    NotLinked,
    /// The ticket has as many links as allowed.
    #[error("the ticket has {max} links already")]
    TooManyLinks {
        /// Most links allowed.
        max: usize,
    },
    /// The ticket names this asset already.
    #[error("the asset is already linked to the ticket")]
    AssetAlreadyLinked,
    /// The ticket does not name this asset.
    #[error("the asset is not linked to the ticket")]
    AssetNotLinked,
    /// The ticket names as many assets as allowed.
    #[error("the ticket has {max} assets already")]
    TooManyAssets {
        /// Most assets allowed.
        max: usize,
    },
    /// The ticket has as many articles as allowed.
    #[error("the ticket has {max} articles already")]
    TooManyArticles {
        /// Most articles allowed.
        max: u32,
    },
    /// Work can only start on an assigned ticket.
    #[error("the ticket has no assignee")]
    AssigneeRequired,
    /// The policy defines no field with this key.
    #[error("there is no field {key:?}")]
    UnknownField {
        /// The unknown key.
        key: String,
    },
    /// The value does not fit the field's definition.
    #[error("field {key:?}: {reason}")]
    InvalidFieldValue {
        /// The field's key.
        key: String,
        /// What is wrong with the value.
        reason: FieldValueError,
    },
    /// A required field is missing (when opening) or would be removed.
    #[error("field {key:?} is required")]
    RequiredFieldMissing {
        /// The field's key.
        key: String,
    },
    /// A value in the command has the wrong form.
    #[error("{field}: {error}")]
    Invalid {
        /// The input field, dotted, such as `requester.email` or `tags[2]`.
        field: String,
        /// What is wrong with it.
        error: ValueError,
    },
}

impl TicketError {
    /// Builds [`TicketError::Invalid`] for a field.
    pub fn invalid(field: impl Into<String>, error: ValueError) -> Self {
        Self::Invalid {
            field: field.into(),
            error,
        }
    }

    /// Stable snake_case name of the broken rule; for [`TicketError::Invalid`] the value's rule.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotOpened => "not_opened",
            Self::AlreadyOpened => "already_opened",
            Self::TicketTypeNotSupported => "ticket_type_not_supported",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::ReopenWindowExpired => "reopen_window_expired",
            Self::AlreadyTerminal { .. } => "already_terminal",
            Self::CannotMergeIntoItself => "cannot_merge_into_itself",
            Self::CannotLinkToItself => "cannot_link_to_itself",
            Self::AlreadyLinked => "already_linked",
            Self::NotLinked => "not_linked",
            Self::TooManyLinks { .. } => "too_many_links",
            Self::AssetAlreadyLinked => "asset_already_linked",
            Self::AssetNotLinked => "asset_not_linked",
            Self::TooManyAssets { .. } => "too_many_assets",
            Self::TooManyArticles { .. } => "too_many_articles",
            Self::AssigneeRequired => "assignee_required",
            Self::UnknownField { .. } => "unknown_field",
            Self::InvalidFieldValue { .. } => "invalid_field_value",
            Self::RequiredFieldMissing { .. } => "required_field_missing",
            Self::Invalid { error, .. } => error.code(),
        }
    }

    /// The input field the error is about, if any: `fields.cost_centre`, `requester.name`, …
    pub fn field(&self) -> Option<String> {
        match self {
            Self::TicketTypeNotSupported => Some("type".to_owned()),
            Self::CannotMergeIntoItself => Some("into".to_owned()),
            Self::CannotLinkToItself | Self::AlreadyLinked | Self::NotLinked => {
                Some("target".to_owned())
            }
            Self::AssetAlreadyLinked | Self::AssetNotLinked => Some("asset_id".to_owned()),
            Self::UnknownField { key }
            | Self::InvalidFieldValue { key, .. }
            | Self::RequiredFieldMissing { key } => Some(format!("fields.{key}")),
            Self::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        }
    }

    /// True for a bad value in the command (HTTP 422), false for a broken business rule (409).
    pub const fn is_validation(&self) -> bool {
        matches!(
            self,
            Self::TicketTypeNotSupported
                | Self::UnknownField { .. }
                | Self::InvalidFieldValue { .. }
                | Self::RequiredFieldMissing { .. }
                | Self::Invalid { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_dynamic_field() {
        let error = TicketError::UnknownField {
            key: "cost_centre".into(),
        };
        assert_eq!(error.field().as_deref(), Some("fields.cost_centre"));
        assert_eq!(error.code(), "unknown_field");
        assert!(error.is_validation());
    }

    #[test]
    fn invalid_values_report_the_value_rule_and_field() {
        let error = TicketError::invalid("requester.name", ValueError::RequesterNameEmpty);
        assert_eq!(error.code(), "requester_name_empty");
        assert_eq!(error.field().as_deref(), Some("requester.name"));
        assert!(error.is_validation());
    }

    #[test]
    fn business_rules_are_not_validation_errors() {
        let error = TicketError::InvalidTransition {
            command: "close",
            from: Status::New,
        };
        assert_eq!(error.code(), "invalid_transition");
        assert_eq!(error.field(), None);
        assert!(!error.is_validation());
        assert!(!TicketError::ReopenWindowExpired.is_validation());
    }
}
